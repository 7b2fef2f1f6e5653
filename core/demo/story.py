"""`flyp demo`: the whole FLYP story on the embedded demo, on the CPU, in a few minutes.

Writes the demo folders (once), measures the demo model zero-shot, finetunes it with FLYP and
with the paper's baselines (cross-entropy finetuning, LP-FT, L2-SP), computes each method's
weight-ensembling curve on ID and OOD data, and prints a table. The app's demo project uses the
same folders and settings, and lists the runs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from core.errors import FlypError
from core.training.defaults import family_of
from core.weights.curve import best_alpha, ood_mean

# The demo model's row of the per-family table (core.training.defaults), as the demo trains it.
DEMO_SETTINGS = {**family_of("demo").settings(), "weight_decay": 0.1, "seed": 0}
DATA_MARKER = "demo-data.json"


def default_root() -> Path:
    from platformdirs import user_data_path

    return user_data_path("FLYP Studio", appauthor=False) / "demo"


def ensure_demo_data(folder: Path, seed: int = 0, progress=None, cancel=None) -> Path:
    """Write the demo folders into `folder` unless a complete copy is already there."""
    from core.demo.task import write_demo_data

    marker = folder / DATA_MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()).get("seed") == seed:
                return folder
        except (OSError, json.JSONDecodeError):
            pass
    kwargs = {k: v for k, v in (("progress", progress), ("cancel", cancel)) if v is not None}
    counts = write_demo_data(folder, seed=seed, **kwargs)
    from core.atomic import write_json

    write_json(marker, {"seed": seed, "counts": counts})
    return folder


def demo_paths(data: Path) -> dict:
    from core.demo.task import demo_splits

    splits = demo_splits()
    return {"train": data / "train", "val": data / "val", "ood": [data / s for s in splits if s.startswith("ood-")]}


def demo_project_file(root: Path | None = None, progress=None, cancel=None) -> Path:
    """The demo project file (its data written first if needed), for the app."""
    from core.project import Project, save_project

    root = root or default_root()
    ensure_demo_data(root / "data", progress=progress, cancel=cancel)
    path = root / "Demo.flyp.json"
    if not path.is_file():
        from core.demo.task import DEMO_TEMPLATES

        project = Project(name="Demo", train_dir="data/train", val_dir="data/val",
                          ood_dirs=[f"data/{p.name}" for p in demo_paths(root / "data")["ood"]],
                          model="demo", templates=list(DEMO_TEMPLATES), settings=dict(DEMO_SETTINGS))
        save_project(project, path)
    return path


ACTIONS = ("run", "data", "pretrain")
# The methods `flyp demo` compares, in the order of its table, with their labels.
STORY = {"flyp": "FLYP", "ce": "CE finetuning", "lp-ft": "LP-FT", "l2sp": "L2-SP"}


def main(args, progress=None) -> int:
    """`flyp demo [run|data|pretrain] [DIR]`; `progress(done, total)` follows the pretraining."""
    if args.action not in ACTIONS:  # `flyp demo DIR`: the story, in DIR
        if args.dir:
            raise FlypError(f"flyp demo: unknown action {args.action!r} (one of {', '.join(ACTIONS)})")
        args.action, args.dir = "run", args.action
    if args.action == "data":
        if not args.dir:
            raise FlypError("flyp demo data DIR: give the folder to write")
        counts = ensure_demo_data(Path(args.dir), seed=args.seed)
        print(f"demo folders written to {counts}")
        return 0
    if args.action == "pretrain":
        from core.demo.pretrain import pretrain_demo_model
        from core.model.loading import select_device

        if not args.dir:
            raise FlypError("flyp demo pretrain DIR: give the folder for the new model")
        out = Path(args.dir)
        options = {"progress": progress} if progress else {}
        if args.steps is not None:
            options["steps"] = args.steps
        stats = pretrain_demo_model(out, seed=args.seed, device=str(select_device(args.device)), **options)
        from core.atomic import write_json

        stats_file = out.with_name(out.name + ".stats.json")  # beside the folder, as resources/models/demo.stats.json
        write_json(stats_file, stats)
        print(f"demo model written to {out} (zero-shot {stats['zero_shot']}); how it was made: {stats_file}")
        return 0
    return run_story(Path(args.dir) if args.dir else default_root(), args)


def demo_train_config(paths: dict, method: str, seed: int, device: str = "auto"):
    """The TrainConfig of one `flyp demo` run: the demo folders, DEMO_SETTINGS, `method`, `seed`."""
    from core.demo.task import DEMO_TEMPLATES
    from core.training.config import TrainConfig

    return TrainConfig(train_dir=str(paths["train"]), val_dir=str(paths["val"]),
                       ood_dirs=[str(p) for p in paths["ood"]], model="demo", method=method,
                       templates=list(DEMO_TEMPLATES), device=device, **(DEMO_SETTINGS | {"seed": seed}))


def run_story(root: Path, args) -> int:
    """Zero-shot, each method of STORY and their blends on the demo: print the table (and JSON with --json)."""
    start = time.monotonic()
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    say(f"Demo folders: {root / 'data'}")
    paths = demo_paths(ensure_demo_data(root / "data"))  # before PyTorch loads: drawn by several processes

    from core.weights.blend import run_eval_sets
    from core.weights.curve import run_curve
    from core.model.loading import select_device
    from core.training.runs import RunDir, RunStatus
    from core.training.loop import train
    from core.training.shared import Shared

    device = select_device(args.device)
    run_dirs = {method: root / "runs" / f"{method}-seed{args.seed}" for method in STORY}
    # Every run trains and evaluates on the same demo folders from the same model: the scan, the
    # decoded evaluation images and the pretrained model's features of them (step 0, α = 0) once.
    results, shared = {}, Shared()
    for method, label in STORY.items():
        run_dir = run_dirs[method]
        config = demo_train_config(paths, method, args.seed, device=args.device)
        say(f"Finetuning the demo model with {label}…")
        if not RunDir(run_dir).exists():
            train(config, run_dir, shared=shared)
        elif RunStatus.of(RunDir(run_dir).read_info()) is not RunStatus.FINISHED:
            train(config, run_dir, resume=True, shared=shared)
        if shared.eval_sets is None:  # this run was trained before: decode the sets for all that follow
            shared.eval_sets = run_eval_sets(RunDir(run_dir).read_info())
        results[method] = run_curve(run_dir, device, sets=shared.eval_sets)  # cached in the run: the app's Blend page reuses it
    project = add_to_demo_project(root, list(run_dirs.values()))
    table = summary_table(results)
    elapsed = time.monotonic() - start
    if args.json:
        print(json.dumps({"table": table, "curves": results, "seconds": elapsed,
                          "project": str(project) if project else None}, indent=2))
    else:
        print(format_table(table, results))
        print(f"\n({elapsed:.0f} s; runs in {root / 'runs'})")
        if project:
            opener = "flyp-studio --demo" if root == default_root() else f"flyp-studio '{project}'"
            print(f"See them in the app: {opener} (Blend, Try, Export and Compare pages)")
        else:
            print("The demo project is open in FLYP Studio, so these runs were not added to it")
    return 0


def add_to_demo_project(root: Path, run_dirs: list[Path]) -> Path | None:
    """List the story's runs in the demo project beside them, so the app shows them; return the
    project file, or None when a FLYP Studio window has the project open (it would overwrite it)."""
    from core.project import add_runs_to_project

    path = demo_project_file(root)
    try:
        add_runs_to_project(path, run_dirs)
    except FlypError:
        return None
    return path


def _ood_mean(point: dict) -> float:
    return ood_mean(point["sets"])  # the demo always has its sketch and painting sets


def summary_table(results: dict) -> list[dict]:
    """Rows: zero-shot, each method at α = 1, and each method's best blend (chosen on ID)."""
    flyp = results["flyp"]
    rows = [{"method": "zero-shot", "alpha": 0.0, "id": flyp[0]["sets"]["id"]["accuracy"], "ood": _ood_mean(flyp[0])}]
    for method, curve in results.items():
        label = STORY[method]
        rows.append({"method": label, "alpha": 1.0, "id": curve[-1]["sets"]["id"]["accuracy"], "ood": _ood_mean(curve[-1])})
        best = best_alpha(curve)
        rows.append({"method": f"{label} + best blend", "alpha": best["alpha"],
                     "id": best["sets"]["id"]["accuracy"], "ood": _ood_mean(best)})
    return rows


def format_table(rows: list[dict], results: dict) -> str:
    lines = ["| method | α | ID accuracy | OOD accuracy (mean) |", "|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['alpha']:.1f} | {r['id']:.1%} | {r['ood']:.1%} |" for r in rows]
    lines += ["", "α curve (ID / OOD mean accuracy):", "", "| α | " + " | ".join(STORY[m] for m in results) + " |",
              "|---|" + "---|" * len(results)]
    for i, point in enumerate(next(iter(results.values()))):
        cells = [f"{c[i]['sets']['id']['accuracy']:.1%} / {_ood_mean(c[i]):.1%}" for c in results.values()]
        lines.append(f"| {point['alpha']:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
