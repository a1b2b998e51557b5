"""Serve the demo site until Ctrl-C: python -m crawler.demo_site --port 8000 --articles 40"""
from __future__ import annotations

import argparse
import threading

from . import DemoSite, serve_site


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crawler.demo_site", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--articles", type=int, default=40, help="Central Asia articles (at least 21)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated articles")
    parser.add_argument("--hang-seconds", type=float, default=5.0, help="how long the 'timeout' article hangs")
    args = parser.parse_args(argv)
    site = DemoSite.build(n_articles=args.articles, seed=args.seed)
    with serve_site(site, hang_seconds=args.hang_seconds, port=args.port) as server:
        print(f"Demo site: {server.url}/  (section: {server.section_url}, "
              f"{len(site.articles)} articles on {site.listing_pages} pages). Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping", flush=True)


if __name__ == "__main__":
    main()
