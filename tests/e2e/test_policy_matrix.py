"""Every shipped policy x every client API x streaming and not, through a real server and the SDKs.

The matrix lives in the public test kit (`luthien.testing.matrix`, collected there by the plugin when
`--policy` is given); here it runs for every shipped policy. `pytest tests/e2e --policy=all_caps`
runs it for one policy only, `--policy=module:Class` for a policy of your own.
"""

from luthien.testing.matrix import *  # noqa: F403
