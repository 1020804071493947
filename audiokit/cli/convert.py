"""``audiokit convert``: official released checkpoint -> audiokit model folder."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "convert",
        help="convert an official codec checkpoint to an audiokit model folder",
        description="Convert an official released checkpoint into an audiokit model folder "
        "(config.yaml + model.safetensors). The configuration is inferred from tensor shapes; "
        "the file is read with torch.load(weights_only=True), so no code in it runs. "
        "Formats: WavTokenizer and Language-Codec Lightning .ckpt, HiFi-Codec generator files.",
    )
    p.add_argument("input", metavar="INPUT.ckpt", help="official checkpoint file (format detected from its keys)")
    p.add_argument("outdir", metavar="OUTDIR", help="audiokit model folder to write")
    p.add_argument("--config", metavar="OFFICIAL.yaml",
                   help="the official training config (YAML, or JSON for HiFi-Codec); only its numbers are "
                   "read, and they must agree with the checkpoint's shapes")
    p.add_argument("--keep-discriminators", action="store_true",
                   help="also write the GAN discriminators (discriminators.safetensors, official names) "
                   "for fine-tuning")
    p.add_argument("--force", action="store_true", help="replace OUTDIR if it exists")
    return p


def run(args: argparse.Namespace) -> int:
    from audiokit.checkpoint import read_checkpoint_config
    from audiokit.convert import convert_official

    name, out = convert_official(args.input, args.outdir, config=args.config,
                                 keep_discriminators=args.keep_discriminators, force=args.force)
    cfg = read_checkpoint_config(out)
    extra = " + discriminators" if cfg.get("discriminators") else ""
    rate = (f"{cfg['sample_rate']} Hz, hop {cfg['hop_length']} ({cfg['frame_rate']:g} tokens/s)"
            if "hop_length" in cfg else "converted")
    print(f"wrote {out}: {name}, {rate}{extra}")
    return 0
