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
        "Formats (detected): WavTokenizer and Language-Codec Lightning .ckpt, HiFi-Codec release files. "
        "An option the detected format does not take is an error.",
    )
    p.add_argument("input", metavar="INPUT.ckpt", help="official checkpoint file (format detected from its keys)")
    p.add_argument("outdir", metavar="OUTDIR", help="audiokit model folder to write")
    p.add_argument("--config", metavar="CONFIG",
                   help="the model's configuration: the official training YAML (WavTokenizer, Language-Codec), "
                   "or for HiFi-Codec a release name (hificodec_16k_320d ...), an audiokit YAML or the official "
                   "config_*.json; only its numbers are read, and they must agree with the checkpoint's shapes")
    p.add_argument("--sample-rate", type=int, metavar="HZ",
                   help="audio sample rate, for formats whose weights do not tell it (HiFi-Codec hop 320 "
                   "exists at 16000 and 24000 Hz)")
    p.add_argument("--keep-discriminators", action="store_true",
                   help="also write the GAN discriminators (discriminators.safetensors, official names) "
                   "for fine-tuning")
    p.add_argument("--force", action="store_true", help="replace OUTDIR if it exists")
    return p


def run(args: argparse.Namespace) -> int:
    from audiokit.checkpoint import read_checkpoint_config
    from audiokit.convert import convert_official

    name, out = convert_official(args.input, args.outdir, config=args.config, sample_rate=args.sample_rate,
                                 keep_discriminators=args.keep_discriminators, force=args.force)
    cfg = read_checkpoint_config(out)
    extra = " + discriminators" if cfg.get("discriminators") else ""
    rate = (f"{cfg['sample_rate']} Hz, hop {cfg['hop_length']} ({cfg['frame_rate']:g} tokens/s)"
            if "hop_length" in cfg else "converted")
    print(f"wrote {out}: {name}, {rate}{extra}")
    return 0
