"""Run as a script: a Hub cache with a CLIP whose text tower is a tiny random BERT (the way
BiomedCLIP is published), then one short `flyp train` from it by its hf-hub: name, offline, and
`flyp export` of that run into RUN_DIR-bundle.

argv: CACHE TRAIN_DIR VAL_DIR RUN_DIR. HF_HUB_CACHE must point at CACHE before anything from
Hugging Face is imported (transformers reads it on import), hence a separate process.
"""

import json
import sys
import tempfile
from pathlib import Path

from hub_cache import add_repo

CLIP, BERT = "test-org/tiny-biomed", "test-org/tiny-bert"
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", "the", "red", "green", "blue",
         "thing", "."]
MODEL_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"hf_model_name": BERT, "hf_tokenizer_name": BERT, "hf_proj_type": "linear",
                 "hf_pooler_type": "cls_last_hidden_state_pooler", "context_length": 16},
}


def write_cache(cache: Path) -> None:
    import open_clip
    from transformers import BertConfig, BertTokenizerFast

    from core.atomic import save_safetensors

    work = Path(tempfile.mkdtemp())
    (work / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    BertTokenizerFast(vocab_file=str(work / "vocab.txt")).save_pretrained(work / "bert")
    BertConfig(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=64, max_position_embeddings=32).save_pretrained(work / "bert")
    add_repo(cache, BERT, {f.name: f for f in (work / "bert").iterdir()})
    config = json.dumps({"model_cfg": MODEL_CFG, "preprocess_cfg": {}}).encode()
    snapshot = add_repo(cache, CLIP, {"open_clip_config.json": config})
    model = open_clip.create_model(f"local-dir:{snapshot}", pretrained_text=False)
    save_safetensors(model.state_dict(), work / "weights.safetensors")
    add_repo(cache, CLIP, {"open_clip_model.safetensors": work / "weights.safetensors"})


if __name__ == "__main__":
    cache, train_dir, val_dir, out = sys.argv[1:5]
    write_cache(Path(cache))
    from core.cli import main

    code = main(["train", "--model", f"hf-hub:{CLIP}", "--train", train_dir, "--val", val_dir,
                 "--out", out, "--epochs", "1", "--batch-size", "12", "--workers", "0", "--device", "cpu"])
    sys.exit(code or main(["export", "--run", out, "--alpha", "1", "--out", f"{out}-bundle"]))
