"""SCRAM credentials of Kafka users through the admin API (AlterUserScramCredentials, KIP-554).

aiokafka 0.14 has no call for it, so this sends the protocol request itself (API key 51,
v0, a flexible version). The client salts and hashes: the broker receives the salted
password (PBKDF2-HMAC-SHA-512), never the password, and no process's command line ever
holds it (Kafka's ConfigCommand took it as an argument).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)
from pydantic import SecretStr

from topics.errors import TierflowError

SCRAM_SHA_512 = 2  # the protocol's mechanism code (1 is SCRAM-SHA-256)
# The classes follow aiokafka's protocol naming (``…Request_v0``) and are untyped, as it is.
ITERATIONS = 8192  # Kafka accepts 4096-16384 for SCRAM-SHA-512
_SALT_BYTES = 32


class ScramError(TierflowError):
    """The broker refused a change of SCRAM credentials."""


class AlterUserScramCredentialsResponse_v0(Response):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentialsRequest_v0(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = AlterUserScramCredentialsResponse_v0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentialsRequest(Request[AlterUserScramCredentialsRequest_v0]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, upsertions: list[Any]) -> None:
        self._upsertions = upsertions

    def build(
        self, request_struct_class: type[AlterUserScramCredentialsRequest_v0]
    ) -> AlterUserScramCredentialsRequest_v0:
        return request_struct_class([], self._upsertions, {})  # never deletions: see lockout


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    """SCRAM's ``Hi(password, salt, i)`` for SHA-512 (RFC 5802): PBKDF2-HMAC-SHA-512."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


def upsertion(username: str, password: SecretStr) -> AlterUserScramCredentialsRequest:
    """The request that sets ``username``'s SCRAM-SHA-512 password (fresh random salt)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    hashed = salted_password(password.get_secret_value(), salt, ITERATIONS)
    entry: tuple[Any, ...] = (username, SCRAM_SHA_512, ITERATIONS, salt, hashed, {})
    return AlterUserScramCredentialsRequest([entry])


def lockout(username: str) -> AlterUserScramCredentialsRequest:
    """The request that replaces ``username``'s SCRAM-SHA-512 credentials by ones of a
    random password nobody keeps: no one can log in as the user any more.

    Not a deletion: Kafka 4.3.1's broker loses EVERY SCRAM credential when it rebuilds its
    image from the metadata log (a restart with no snapshot yet) and a deleted user comes
    first in its hash order: ``ScramDelta.apply`` drops the mechanism's map once a removal
    empties it, and the users put after that land in the dropped map. README "Known
    limits" has the reproduction; confluentinc/kafka-images#496 reads like the same bug."""
    return upsertion(username, SecretStr(secrets.token_urlsafe(_SALT_BYTES)))


async def alter(admin: AIOKafkaAdminClient, request: AlterUserScramCredentialsRequest) -> None:
    """Send ``request``; ScramError naming the user when the broker refuses it."""
    response = await admin._send_request(request)
    for user, error_code, message, _tags in response.results:
        if error_code:
            raise ScramError(
                f"Kafka refused the SCRAM credentials of {user!r}: error {error_code} {message}"
            )
