"""Serve the sandbox from this process until stdin closes:
`serve_sandbox.py AS_OF [AUDIENCE [LATENCY]]`.

Prints one JSON line: the platforms' URLs, the GA4 service-account file and each platform's settings
that reach the sandbox (``Sandbox.settings_for``).
"""

import datetime as dt
import json
import sys

from connectors.sandbox import Sandbox


def main() -> None:
    as_of = dt.date.fromisoformat(sys.argv[1])
    audience = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    latency = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    with Sandbox(as_of, audience=audience, latency=latency) as sandbox:
        settings = {source: sandbox.settings_for(source) for source in sandbox.urls}
        print(
            json.dumps(
                {
                    "urls": sandbox.urls,
                    "ga4_credentials": sandbox.ga4.credentials_file,
                    "settings": settings,
                }
            ),
            flush=True,
        )
        sys.stdin.read()


if __name__ == "__main__":
    main()
