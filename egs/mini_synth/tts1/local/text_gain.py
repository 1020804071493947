#!/usr/bin/env python3
"""Does a trained F5-TTS read its text yet? The flow loss with the text minus the loss without it.

Usage (from egs/mini_synth/tts1, after the ``train`` stage)::

    python local/text_gain.py exp/tts_mini            # data/dev, up to 64 utterances
    python local/text_gain.py exp/tts_mini --data data/train --items 32

For the final checkpoint's raw and EMA weights and for the untrained model (same config and seed) it
prints the CFM loss on the held-out utterances with the real text and with the text dropped (same
noise, flow time, infill span and prompt audio: :meth:`F5TTSTask.text_losses`). The *gain* (loss without
text minus loss with it) is ~0 while the model ignores the text, i.e. before it has found the
text-speech alignment (F5 has no aligner and finds it late); it grows once the model starts reading,
before the ASR-WER of its speech can show it. Training logs the same number as ``val_text_gain(_ema)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audiokit.errors import AudiokitError


def measure(exp: Path, data: str, items: int, seed: int) -> list[tuple[str, float, float]]:
    """``(system, loss with text, loss without text)`` for trained raw/EMA and untrained weights."""
    import torch

    from audiokit.config import instantiate, read_yaml
    from audiokit.train.tts import F5TTSTask, build_tts, tts_from_checkpoint

    ckpt, cfg = exp / "train" / "checkpoints" / "last.ckpt", exp / "train" / "config.yaml"
    if not ckpt.is_file() or not cfg.is_file():
        raise AudiokitError(f"{exp}: no train/checkpoints/last.ckpt + train/config.yaml (run the train stage)")
    run_cfg = read_yaml(cfg)[0]
    node = run_cfg["data"]
    node["init_args"] = {**node["init_args"], "train_dirs": [data], "val_dirs": [data], "val_max_items": items}
    dm = instantiate(node, where=f"{cfg}: data")
    dm.setup("validate")
    batches = list(dm.val_dataloader())
    run_seed = int(run_cfg.get("seed", 0))
    systems = [("trained (EMA)", tts_from_checkpoint(ckpt, cfg, ema=True)[0]),
               ("trained (raw)", tts_from_checkpoint(ckpt, cfg, ema=False)[0]),
               ("untrained", build_tts(cfg, seed=run_seed)[0])]
    rows = []
    with torch.no_grad():
        for name, model in systems:
            model.eval()
            with_text = without = 0.0
            for i, batch in enumerate(batches):
                loss, loss_without = F5TTSTask.text_losses(model, batch, seed * 100003 + i)
                with_text += float(loss)
                without += float(loss_without)
            rows.append((name, with_text / len(batches), without / len(batches)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exp", type=Path, help="the run's exp/<tag> folder")
    parser.add_argument("--data", default="data/dev", help="Kaldi data dir of held-out utterances (data/dev)")
    parser.add_argument("--items", type=int, default=64, help="utterances used (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(max(1, args.threads))
        if args.items < 1:
            raise AudiokitError("--items must be >= 1")
        rows = measure(args.exp, args.data, args.items, args.seed)
    except AudiokitError as exc:
        print(f"text_gain: {exc}", file=sys.stderr)
        return 1
    print(f"{args.exp} on {args.data} (up to {args.items} utterances, seed {args.seed})")
    print(f"{'system':<15} {'loss, text':>11} {'loss, no text':>14} {'text gain':>10}")
    for name, with_text, without in rows:
        print(f"{name:<15} {with_text:>11.4f} {without:>14.4f} {without - with_text:>10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
