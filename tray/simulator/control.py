"""The ``/_sim/`` control surface, for tests that drive a simulator in another process.

GET  /_sim/stats    {"calls": {...}, "throttled": {...}, "authorize_requests": N}
GET  /_sim/options  the options as JSON
POST /_sim/options  a JSON object of options to change; 400 naming a bad one (nothing changed then)
POST /_sim/reset    clear the counters
POST /_sim/revoke   end every session (all tokens stop working)
POST /_sim/forget-clients  forget every client registration (sign-ins with a cached one are refused)
GET  /_sim/pending  {"user_codes": [...]} device codes awaiting approval
POST /_sim/approve  {"user_code": "ABCD-EFGH", "allow": true} -> {"found": bool} (404 when not found)
POST /_sim/advance  {"seconds": N} ages everything the simulator issued
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .options import apply_patch

if TYPE_CHECKING:  # pragma: no cover
    from .server import Handler


def answer(handler: Handler, method: str, path: str) -> None:
    sim, reply = handler.sim, handler.send_json
    try:
        data = json.loads(handler.body) if handler.body else {}
    except ValueError:
        reply(400, {"message": "The request body is not valid JSON"})
        return
    if (method, path) == ("GET", "/_sim/stats"):
        reply(200, {"calls": sim.calls(), "throttled": sim.throttled(),
                    "authorize_requests": len(sim.authorize_requests())})
    elif (method, path) == ("GET", "/_sim/options"):
        reply(200, sim.options.to_dict())
    elif (method, path) == ("POST", "/_sim/options"):
        try:
            apply_patch(sim.options, data)
        except ValueError as problem:
            reply(400, {"message": str(problem)})
            return
        reply(200, sim.options.to_dict())
    elif (method, path) == ("POST", "/_sim/reset"):
        sim.reset_counts()
        reply(200, {})
    elif (method, path) == ("POST", "/_sim/revoke"):
        sim.revoke_all_tokens()
        reply(200, {})
    elif (method, path) == ("POST", "/_sim/forget-clients"):
        sim.forget_clients()
        reply(200, {})
    elif (method, path) == ("GET", "/_sim/pending"):
        reply(200, {"user_codes": sim.pending_device_codes()})
    elif (method, path) == ("POST", "/_sim/approve") and isinstance(data, dict):
        found = sim.approve_device(str(data.get("user_code", "")), bool(data.get("allow", True)))
        reply(200 if found else 404, {"found": found})
    elif (method, path) == ("POST", "/_sim/advance") and isinstance(data, dict) \
            and isinstance(data.get("seconds"), (int, float)):
        sim.advance_time(data["seconds"])
        reply(200, {})
    else:
        reply(404, {"message": "Not found"})
