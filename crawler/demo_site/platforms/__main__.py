"""Serve one fixture platform until Ctrl-C: python -m crawler.demo_site.platforms drupal --port 8125"""
from __future__ import annotations

import argparse
import threading

from . import PLATFORMS, serve_platform


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crawler.demo_site.platforms", description=__doc__)
    parser.add_argument("platform", choices=sorted(PLATFORMS))
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    args = parser.parse_args(argv)
    platform = PLATFORMS[args.platform]()
    with serve_platform(platform, port=args.port) as server:
        print(f"{args.platform}: {server.url}/  (section: {server.section_url}, {len(platform.section_stories)} articles "
              f"on {platform.listing_pages} pages). Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping", flush=True)


if __name__ == "__main__":
    main()
