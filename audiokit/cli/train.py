"""``audiokit train``: train a model from a YAML config (Lightning), resuming by default."""

from __future__ import annotations

import argparse
import shlex
import sys


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train a model from a YAML config (resumes from exp_dir/checkpoints/last.ckpt)",
        description="Train the task a YAML config describes (class_path/init_args nodes naming "
        "audiokit classes; see docs/design.md). Overrides are dotted key=value pairs, values parsed "
        "as YAML: trainer.max_steps=100 task.lr=1e-3 'loggers=[csv]'. An existing "
        "exp_dir/checkpoints/last.ckpt is resumed unless --no-resume is given.",
    )
    p.add_argument("--config", "-c", metavar="YAML", help="training config file")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (dotted keys)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--no-resume", action="store_true",
                       help="start over (existing checkpoints are moved to checkpoints.oldN)")
    group.add_argument("--resume", metavar="CKPT", help="resume from this Lightning checkpoint")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config (all defaults filled in) and exit; "
                   "without --config, print a template")
    return p


def run(args: argparse.Namespace) -> int:
    from audiokit.config import dump_config, load_config
    from audiokit.errors import ConfigError

    if args.config is None:
        if not args.print_config:
            raise ConfigError("--config is required (audiokit train --print-config prints a template)")
        if args.overrides:
            raise ConfigError("overrides need --config")
        from audiokit.train.runner import TEMPLATE

        sys.stdout.write(dump_config(TEMPLATE))
        return 0
    cfg = load_config(args.config, args.overrides)
    from audiokit.train.runner import resolve_config, train

    if args.print_config:
        sys.stdout.write(dump_config(resolve_config(cfg)))
        return 0
    resume = None if args.no_resume else (args.resume or "auto")
    cmd = shlex.join(["audiokit", *sys.argv[1:]])
    train(cfg, resume=resume, cmd=cmd)
    return 0
