"""Independent JWT checks with PyJWT against sessiond's public JWKS (no SDK code involved)."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List

import httpx
import jwt  # PyJWT

JWKS_PATH = "/.well-known/jwks.json"


def b64url_json(segment: str) -> Dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def unverified_header(token: str) -> Dict[str, Any]:
    return b64url_json(token.split(".")[0])


def unverified_payload(token: str) -> Dict[str, Any]:
    return b64url_json(token.split(".")[1])


def fetch_jwks(core_url: str) -> Dict[str, Any]:
    """GET the JWKS exactly as the SDK's local verification does: no api-key, no cdi-version."""
    response = httpx.get(core_url.rstrip("/") + JWKS_PATH, timeout=10)
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("keys"), list) and body["keys"], body
    return body


def kids(jwks: Dict[str, Any]) -> List[str]:
    return [k["kid"] for k in jwks["keys"]]


def verify_with_jwks(token: str, jwks: Dict[str, Any], **decode_options: Any) -> Dict[str, Any]:
    """Verify signature, exp and iat of ``token`` with the key named by its ``kid``."""
    header = unverified_header(token)
    assert header.get("alg") == "RS256", header
    matching = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    assert len(matching) == 1, f"kid {header.get('kid')!r} not exactly once in JWKS {kids(jwks)}"
    key = jwt.PyJWK.from_dict(matching[0])
    options = {"require": ["exp", "iat"], "verify_aud": False}
    options.update(decode_options.pop("options", {}))
    return jwt.decode(token, key.key, algorithms=["RS256"], options=options, **decode_options)
