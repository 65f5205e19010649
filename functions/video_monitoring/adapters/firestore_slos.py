"""Service level objectives on Firestore: `slo_objectives/{sloId}`, the defaults created when
missing (an edited objective is never overwritten), edits stamped with who made them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from google.api_core.exceptions import AlreadyExists
from pydantic import ValidationError

from video_monitoring.adapters._firestore import FirestoreAdapter
from video_monitoring.alerting.slo_objectives import Objective
from video_monitoring.config import constants

_FIELDS = frozenset(str(f.alias or name) for name, f in Objective.model_fields.items())


class FirestoreObjectiveStore(FirestoreAdapter):
    """ObjectiveStore on Firestore."""

    def load(self) -> tuple[list[Objective], list[str]]:
        """Every objective; one that no longer validates is reported, not fatal."""
        objectives, problems = [], []
        for snap in self.client.collection(constants.SLO_OBJECTIVES).stream():
            doc = {k: v for k, v in (snap.to_dict() or {}).items() if k in _FIELDS}
            try:
                objectives.append(Objective.model_validate({**doc, "sloId": snap.id}))
            except ValidationError as error:
                problems.append(f"{snap.id}: {error.errors()[0]['msg']}")
        return objectives, problems

    def seed(self, objectives: Iterable[Objective]) -> list[str]:
        """Create the objectives that are missing (create() never overwrites an edit)."""
        created = []
        for objective in objectives:
            ref = self.client.collection(constants.SLO_OBJECTIVES).document(objective.slo_id)
            try:
                ref.create({**objective.to_doc(), "seeded": True})
                created.append(objective.slo_id)
            except AlreadyExists:
                pass
        return created

    def put(self, objective: Objective, by: str, now: dt.datetime) -> None:
        """Replace one objective, stamped with who changed it."""
        self.client.collection(constants.SLO_OBJECTIVES).document(objective.slo_id).set(
            {**objective.to_doc(), "updatedBy": by, "updatedAt": now}
        )
