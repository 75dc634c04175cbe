"""The `pymemcg` command."""
import argparse
import sys


def cmd_demo(args):
    from .demo import run_demo
    return run_demo(args)


def build_parser():
    p = argparse.ArgumentParser(prog="pymemcg", description="A page-state engine for Linux memcg reclaim.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the built-in default workload and print what happened")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
