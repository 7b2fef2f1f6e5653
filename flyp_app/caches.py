"""What the app's background tasks keep between calls: the loaded model, image features, the run
opened for blending, α curves, novelty scores and thumbnails. No Qt.

One `Caches` object is held by the app (`AppState.caches`) and passed to the tasks that need it
(`flyp_app.blend_tasks`, `data_tasks`, `try_tasks`, `label_tasks`, `check_tasks`, `trust_tasks`); it is
safe to use from several worker threads at once.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

from core.weights.curve import weights_stamp
from core.weights.session import BlendSession

THUMB_SIZE = 96        # gallery and list thumbnails (Blend's mistakes, Try's images)


class Caches:
    """What the tasks keep between calls, each part behind its own lock.

    One pretrained model (zero-shot numbers are asked for often), the zero-shot image features
    of a few sets, one run opened for blending, the α curves, and thumbnails.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._models: dict = {}
        self._features: dict = {}
        self._blend: dict = {}
        self._curves: dict = {}
        self._thumbs: dict = {}
        self._feature_caches: dict = {}
        self._novelty: dict = {}

    def feature_cache(self, model_key: str):
        """The on-disk image features of one model (`core.model.feature_cache`), opened once per session."""
        from core.model.feature_cache import FeatureCache

        with self._lock:
            if model_key not in self._feature_caches:
                self._feature_caches[model_key] = FeatureCache(model_key)
            return self._feature_caches[model_key]

    def model(self, name: str, pretrained: str | None, device: str = "auto", progress=None, cancel=None):
        """The pretrained model, loaded once (one model in memory at a time); `progress` and
        `cancel` follow a download from the Hugging Face Hub."""
        from core.model.loading import ModelSpec, load_model, select_device
        from core.progress import no_cancel

        key = (name, pretrained or None, device)
        with self._lock:
            if key not in self._models:
                self._models.clear()
                self._models[key] = load_model(ModelSpec(name, pretrained or None), select_device(device),
                                               progress=progress, cancel=cancel or no_cancel)
            return self._models[key]

    def zero_shot_features(self, classifier, samples, cancel):
        """The pretrained image features of `samples`, cached by model and by each file's path, size and time."""
        from core.data.loader import EvalImages

        loaded = classifier.loaded
        files = []
        for sample in samples:
            try:
                stat = sample.path.stat()
                files.append((str(sample.path), stat.st_size, stat.st_mtime_ns))
            except OSError:
                files.append((str(sample.path), None, None))  # gone since the scan: decoding will say so
        key = (loaded.spec, str(loaded.model.logit_scale.device), tuple(files))
        with self._lock:
            if key in self._features:
                return self._features[key]
        images = EvalImages(samples, loaded.image_size, loaded.preprocess["interpolation"], cancel)
        features = classifier.features(images, cancel=cancel)
        with self._lock:
            if len(self._features) >= 8:  # a few sets of one or two models
                self._features.pop(next(iter(self._features)))
            self._features[key] = features
        return features

    def blend_session(self, run_dir: str, device: str = "auto") -> BlendSession:
        """The run's BlendSession (one in memory at a time; reopened when the run's weights change)."""
        key = (str(Path(run_dir).resolve()), device, tuple(weights_stamp(run_dir)))
        with self._lock:
            if key not in self._blend:
                self._blend.clear()
                self._blend[key] = BlendSession.open(run_dir, device)
            return self._blend[key]

    def novelty(self, key: str, fit):
        """The novelty score ("none of these", `core.trust.novelty`) of the model named `key` (a
        predictor's key: weights and α), fitted by `fit()` once; None where it could not be fitted."""
        with self._lock:
            if key in self._novelty:
                return self._novelty[key]
        model = fit()  # outside the lock: it reads every training image's features
        with self._lock:
            if len(self._novelty) >= 8:
                self._novelty.pop(next(iter(self._novelty)))
            self._novelty[key] = model
        return model

    def run_novelty(self, session: BlendSession, alpha: float):
        """The novelty score of the session's run at α, fitted on its training images once."""
        from core.labelling.predictor import from_run

        with session.lock:
            predictor = from_run(session.blended, alpha)
            return self.novelty(predictor.key, predictor.novelty_model)

    def curve(self, key) -> list[dict] | None:
        with self._lock:
            return self._curves.get(key)

    def keep_curve(self, key, curve: list[dict]) -> list[dict]:
        with self._lock:
            self._curves[key] = curve
        return curve

    def thumbnail_png(self, path: str | Path | None = None, image=None, size: int = THUMB_SIZE) -> bytes:
        """A small PNG of an image file or of a PIL image, for lists and galleries. A file's is
        cached by path, size asked for and the file's time and length (an image replaced on disk
        gets a new thumbnail)."""
        from core.data.images import load_rgb

        key = _file_key(path, size) if image is None else None
        if key is not None:
            with self._lock:
                if key in self._thumbs:
                    return self._thumbs[key]
        picture = (image if image is not None else load_rgb(path, draft_size=size * 2)).copy()
        picture.thumbnail((size, size))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        if key is not None:
            with self._lock:
                if len(self._thumbs) > 4000:
                    self._thumbs.clear()
                self._thumbs[key] = buffer.getvalue()
        return buffer.getvalue()


def _file_key(path, size: int) -> tuple | None:
    """A thumbnail's cache key: the file as it is now (None when it cannot be read: load_rgb says why)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return str(path), size, stat.st_mtime_ns, stat.st_size
