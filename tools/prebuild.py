"""``python -m tools.prebuild``: every Go program the cluster and image suites need, built now.

``make test`` starts it in the background as the session begins (``tests/plugins/prebuild.py``)
when the session will run those suites: on a cold machine the builds (Kubernetes, etcd,
CoreDNS, metrics-server, Docker Compose, Mailpit) then use the CPU the app tests leave idle, and
the fixtures that need them wait on the build's lock instead of starting it. Niced, like every
build here. Already built components cost nothing.
"""

import sys
import time

from tools.cluster.build import COMPONENTS
from tools.gobuild import ensure_built
from tools.image.build import COMPOSE, MAILPIT


def main() -> int:
    started = time.monotonic()
    for component in (*COMPONENTS, COMPOSE, MAILPIT):
        ensure_built(component, log=lambda line: print(line, flush=True))
    print(f"prebuild done in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
