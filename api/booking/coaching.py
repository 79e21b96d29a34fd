"""GraphQL for seed 002's rules (issue 11): recurring series, coach assignments and public
slugs. Thin resolvers over reservation.services.series / coaching."""

from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.ids import decode_id
from api.payloads import payload
from api.ratelimit import rate_limited
from reservation.services import coaching, series

from .types import ReservationType

ProviderId = Annotated[strawberry.ID, strawberry.argument(description="The provider's ID.")]
ClientId = Annotated[strawberry.ID, strawberry.argument(description="The client's ID.")]


@strawberry.input(description="Book one slot every N weeks, M times, as one action.")
class ReservationSeriesInput:
    provider_id: strawberry.ID = strawberry.field(description="The provider's ID.")
    start: datetime = strawberry.field(description="The first start, from availableSlots.")
    every_weeks: int = strawberry.field(description="Weeks between appointments (1–12).")
    count: int = strawberry.field(description="How many appointments in all (2–52).")
    all_or_nothing: bool = strawberry.field(
        default=True,
        description="True: book none unless every one is free (SERIES_INCOMPLETE). False: "
        "book the free ones and report the others in `missed`.",
    )


@strawberry.type(description="An occurrence of a series that was not booked, and why.")
class SeriesMiss:
    start: datetime = strawberry.field(description="The wanted start (UTC).")
    code: str = strawberry.field(description="The error code a single booking would get.")
    message: str = strawberry.field(description="Why, in words.")


@strawberry.type(description="What a series booking booked and what it could not.")
class ReservationSeriesResult:
    booked: list[ReservationType] = strawberry.field(
        description="The confirmed appointments, in order."
    )
    missed: list[SeriesMiss] = strawberry.field(
        description="Occurrences not booked (only when allOrNothing is false)."
    )


@strawberry.type(description="Reservations that were cancelled.")
class ReservationsCancelled:
    cancelled: list[ReservationType] = strawberry.field(description="In order of start.")


@strawberry.type(description="Whether a coaching relationship exists now.")
class CoachAssignmentResult:
    assigned: bool = strawberry.field(description="True when the client is now assigned.")


@strawberry.type(description="A provider's public address name.")
class ProviderSlugResult:
    slug: str = strawberry.field(description="Used in booking page URLs: /book/coach/<slug>/.")


@strawberry.type
class CoachingMutation:
    @strawberry_django.mutation(
        description="Book the same slot every N weeks, M times: confirmed appointments, each "
        "checked like a single booking."
    )
    @rate_limited("reservation_create", by=["actor"])
    def reservation_series_create(
        self,
        info: Info,
        input: Annotated[ReservationSeriesInput, strawberry.argument(description="The series.")],
    ) -> payload(
        "ReservationSeriesCreatePayload", ReservationSeriesResult, "What was booked, or why not."
    ):
        result = series.reservation_series_create(
            actor=actor_of(info),
            provider_id=decode_id(input.provider_id, "Provider"),
            start=input.start,
            every_weeks=input.every_weeks,
            count=input.count,
            all_or_nothing=input.all_or_nothing,
        )
        return ReservationSeriesResult(
            booked=[o.reservation for o in result.booked],  # type: ignore[misc]
            missed=[
                SeriesMiss(start=o.start, code=o.code, message=o.message) for o in result.missed
            ],
        )

    @strawberry_django.mutation(
        description="Cancel this reservation and every later live one of its series."
    )
    def reservation_series_cancel(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A reservation's ID.")],
        reason: Annotated[str, strawberry.argument(description="Why (at most 500).")] = "",
    ) -> payload("ReservationSeriesCancelPayload", ReservationsCancelled, "Or why not."):
        done = series.reservation_series_cancel(
            actor=actor_of(info), reservation_id=decode_id(id, "Reservation"), reason=reason
        )
        return ReservationsCancelled(cancelled=done)  # type: ignore[arg-type]

    @strawberry_django.mutation(
        description="Make a provider a client's coach (the provider themselves, or staff)."
    )
    def coach_client_assign(
        self, info: Info, provider_id: ProviderId, client_id: ClientId
    ) -> payload("CoachClientAssignPayload", CoachAssignmentResult, "Or why not."):
        coaching.client_assign(
            actor=actor_of(info),
            provider_id=decode_id(provider_id, "Provider"),
            client_id=decode_id(client_id, "Client"),
        )
        return CoachAssignmentResult(assigned=True)

    @strawberry_django.mutation(description="End a coaching relationship (bookings stay).")
    def coach_client_unassign(
        self, info: Info, provider_id: ProviderId, client_id: ClientId
    ) -> payload("CoachClientUnassignPayload", CoachAssignmentResult, "Or why not."):
        coaching.client_unassign(
            actor=actor_of(info),
            provider_id=decode_id(provider_id, "Provider"),
            client_id=decode_id(client_id, "Client"),
        )
        return CoachAssignmentResult(assigned=False)

    @strawberry_django.mutation(
        description="Set a provider's public slug; old ones keep redirecting to it."
    )
    def provider_slug_set(
        self,
        info: Info,
        provider_id: ProviderId,
        slug: Annotated[str, strawberry.argument(description="e.g. anna-berg.")],
    ) -> payload("ProviderSlugSetPayload", ProviderSlugResult, "The slug, or why not."):
        row = coaching.provider_slug_set(
            actor=actor_of(info), provider_id=decode_id(provider_id, "Provider"), slug=slug
        )
        return ProviderSlugResult(slug=row.slug)
