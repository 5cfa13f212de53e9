"""A local stand-in for the OpenAI Responses API (background jobs, tools, files, webhooks).

It is a real HTTP server used by tests, benchmarks and ``longhaul up``. It imports nothing
from the rest of Longhaul.

Start it programmatically::

    with start_simulator(queued_seconds=0.05, run_seconds=0.2) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0)

or from a shell: ``python -m longhaul.simulator --port 0`` (prints ``{"url": ...}``).

Scenario control, per request, in ``metadata["longhaul_sim"]``: a comma-separated list of
directives, e.g. ``"create429:2,slow:5,files:3"``. See ``scenarios.py`` for the grammar:

==========================  ==================================================================
``fail``                    ends ``failed`` with ``error.code = "server_error"``
``incomplete``              ends ``incomplete`` (``incomplete_details.reason = max_output_tokens``)
``cancelled``               ends ``cancelled`` on its own
``stuck``                   stays ``queued`` forever
``queued:S`` / ``slow:S``   seconds spent queued / in progress (floats allowed)
``create429:N``             first N creates of the job get 429 + ``Retry-After: 1``
``create500:N``             first N creates get 500
``createdrop:N``            first N creates: connection closed, no response, nothing created
``createdup:N``             first N creates: response IS created, then the connection is closed
``createhang:N``            first N creates: response IS created, no answer until the client
                            gives up (a read timeout after the request was sent)
``poll500:N``               first N retrieves of the response get 500
``files:N``                 code interpreter writes N files (default 1)
``filesize:BYTES``          the last code-interpreter file is BYTES long, generated on the fly
``expired``                 container and its files 404 once the response is terminal
``quota``                   every create gets 429 ``insufficient_quota`` (permanent)
``bad_request``             every create gets 400 ``invalid_request_error``
==========================  ==================================================================

``create*`` counts are kept per ``metadata["longhaul_job_id"]`` (fallback: sha256 of the body),
consumed in the order written, so a job's retries walk through the sequence.

Admin endpoints (no auth): ``GET /_sim/stats``, ``GET /_sim/responses/{id}``,
``POST /_sim/reset``, ``GET /_sim/health``.
"""

from .config import SimulatorConfig
from .server import SimulatorHandle, start_simulator

__all__ = ["SimulatorConfig", "SimulatorHandle", "start_simulator"]
