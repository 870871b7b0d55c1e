"""Kafka ACLs for tierflow's principals, through the admin principal (a super user).

aiokafka has no ACL calls, so these send its CreateAcls/DeleteAcls protocol requests
(v1: with pattern types). Creating an ACL that exists is a no-op on the broker, so every
grant here is idempotent.

Who may do what (DESIGN §6):
- the worker: the pipeline itself — every tierflow topic (it reads the inputs and ticks,
  writes outputs, changelogs, DLQ and ticks, creates its internal topics), its groups, and
  the transactional ids its stages commit and journal with (fencing).
  Granted on all topics at ``stack up``: topic prefixes are a setting (each review, drill
  or test runs in its own), and only the admin and the worker exist before agencies do.
- an agency: WRITE on the four input topics, READ on the output topics, consumer groups
  whose id starts with ``<agency id>.``; nothing else (no ticks, no DLQ, no raw inputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest

from streams.config.settings import Settings
from streams.ops.kafka import admin_client
from topics.errors import TierflowError
from topics.registry import ALERTS, ESCALATIONS, INPUT_TOPICS, TASKS


class Resource(IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


class Pattern(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    ANY = 1
    READ = 3
    WRITE = 4
    CREATE = 5
    DESCRIBE = 8
    DESCRIBE_CONFIGS = 10
    IDEMPOTENT_WRITE = 12


_ALLOW = 3
_ANY_PERMISSION = 1
_ANY_RESOURCE = 1
_ANY_PATTERN = 1


class AclError(TierflowError):
    """The broker refused an ACL change."""


@dataclass(frozen=True)
class Acl:
    """One ALLOW entry: ``principal`` may ``operation`` on the resource, from any host."""

    resource: Resource
    name: str
    pattern: Pattern
    principal: str
    operation: Operation


def worker_acls(username: str) -> list[Acl]:
    """The worker's grants (see the module docstring)."""
    user = f"User:{username}"
    topic_ops = (
        Operation.READ,
        Operation.WRITE,
        Operation.CREATE,
        Operation.DESCRIBE,
        Operation.DESCRIBE_CONFIGS,
    )
    group_ops = (Operation.READ, Operation.DESCRIBE)
    return [
        *(Acl(Resource.TOPIC, "*", Pattern.LITERAL, user, op) for op in topic_ops),
        *(Acl(Resource.GROUP, "*", Pattern.LITERAL, user, op) for op in group_ops),
        # The decide stage commits each partition in a transaction of its own (fencing.py).
        *(
            Acl(Resource.TRANSACTIONAL_ID, "*", Pattern.LITERAL, user, op)
            for op in (Operation.WRITE, Operation.DESCRIBE)
        ),
        Acl(Resource.CLUSTER, "kafka-cluster", Pattern.LITERAL, user, Operation.IDEMPOTENT_WRITE),
    ]


def agency_acls(settings: Settings, agency_id: str) -> list[Acl]:
    """An agency's grants on the topics of ``settings.topic_prefix``."""
    user, prefix = f"User:{agency_id}", settings.topic_prefix
    acls = [
        Acl(Resource.CLUSTER, "kafka-cluster", Pattern.LITERAL, user, Operation.IDEMPOTENT_WRITE)
    ]
    for spec in INPUT_TOPICS:
        for op in (Operation.WRITE, Operation.DESCRIBE):
            acls.append(Acl(Resource.TOPIC, spec.name(prefix), Pattern.LITERAL, user, op))
    for spec in (ESCALATIONS, TASKS, ALERTS):
        for op in (Operation.READ, Operation.DESCRIBE):
            acls.append(Acl(Resource.TOPIC, spec.name(prefix), Pattern.LITERAL, user, op))
    for op in (Operation.READ, Operation.DESCRIBE):
        acls.append(Acl(Resource.GROUP, f"{agency_id}.", Pattern.PREFIXED, user, op))
    return acls


async def grant(admin: AIOKafkaAdminClient, acls: list[Acl]) -> None:
    """Create ``acls`` (idempotent); AclError on the first the broker refuses."""
    for acl in acls:
        request = CreateAclsRequest(
            acl.resource, acl.name, acl.pattern, acl.principal, "*", acl.operation, _ALLOW
        )
        response = await admin._send_request(request)
        for error_code, message in response.creation_responses:
            if error_code:
                raise AclError(f"Kafka refused the ACL {acl}: error {error_code} {message}")


async def revoke_all(admin: AIOKafkaAdminClient, username: str) -> int:
    """Delete every ACL of ``User:<username>``; returns how many the broker removed."""
    request = DeleteAclsRequest(
        _ANY_RESOURCE, None, _ANY_PATTERN, f"User:{username}", None, Operation.ANY,
        _ANY_PERMISSION,
    )  # fmt: skip
    response = await admin._send_request(request)
    removed = 0
    for error_code, message, matching in response.filter_responses:
        if error_code:
            raise AclError(f"Kafka refused to delete the ACLs of {username}: {message}")
        removed += len(matching)
    return removed


async def grant_worker(settings: Settings) -> None:
    """The worker's ACLs, as the admin (idempotent: `stack up` and `topics create` make
    sure of them; in production `topics create` runs in the compose's init service)."""
    async with admin_client(settings) as admin:
        await grant(admin, worker_acls(settings.kafka_username))
