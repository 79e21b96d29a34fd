import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from graphql import OperationDefinitionNode, parse
from graphql.error import GraphQLSyntaxError

from api.persisted import HASH, clear_cache, document_hash
from reservation.models import PersistedQuery


def _entries(data: Any) -> list[tuple[str, str]]:
    """(hash, document) pairs from `{"<sha256>": "<document>", ...}` or an Apollo persisted
    query manifest (`{"operations": [{"id": ..., "body": ...}, ...]}`)."""
    if isinstance(data, dict) and isinstance(data.get("operations"), list):
        return [(str(op.get("id", "")), str(op.get("body", ""))) for op in data["operations"]]
    if isinstance(data, dict):
        return [(str(key), str(value)) for key, value in data.items()]
    raise CommandError("Expected a JSON object of hash → document, or an Apollo manifest.")


def _name(document: str) -> str:
    for definition in parse(document).definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.name:
            return definition.name.value[:200]
    return ""


class Command(BaseCommand):
    help = (
        "Register GraphQL operations by the SHA-256 of their text, from a JSON file: "
        '{"<sha256>": "<document>"} or an Apollo persisted-query manifest. Every hash is '
        "verified and every document parsed; one bad entry loads nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: object, **options: Any) -> None:
        try:
            data = json.loads(options["file"].read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
        rows = []
        for sha256, document in _entries(data):
            sha256 = sha256.removeprefix("sha256:").lower()
            if not HASH.fullmatch(sha256) or document_hash(document) != sha256:
                raise CommandError(f"{sha256[:64]!r} is not the SHA-256 of its document.")
            try:
                name = _name(document)
            except GraphQLSyntaxError as exc:
                raise CommandError(f"{sha256}: {exc.message}") from exc
            rows.append(PersistedQuery(sha256=sha256, document=document, name=name))
        rows = list({row.sha256: row for row in rows}.values())  # the file may repeat one
        with transaction.atomic():
            existing = set(
                PersistedQuery.objects.filter(pk__in=[r.sha256 for r in rows]).values_list(
                    "pk", flat=True
                )
            )
            PersistedQuery.objects.bulk_create(
                [row for row in rows if row.sha256 not in existing], ignore_conflicts=True
            )
        clear_cache()
        self.stdout.write(
            f"{len(rows) - len(existing)} operation(s) registered, {len(existing)} known already."
        )
