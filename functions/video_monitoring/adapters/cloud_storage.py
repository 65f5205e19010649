"""Background export files in a Cloud Storage bucket, and the links that download them.

A link is a V4 signed URL valid for EXPORT_LINK_MINUTES: the browser downloads the object from
Cloud Storage itself, so no function relays the file (a Cloud Run response is capped at 32 MiB
unless streamed, and Hosting's proxy cuts at 60 s). A deployed function holds no private key;
it signs through the IAM `signBlob` API as its own service account, which needs
`roles/iam.serviceAccountTokenCreator` on itself (docs/exports.md). With
`STORAGE_EMULATOR_HOST` set (the local stack), the link is the emulator's media URL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import urllib.parse
from collections.abc import Iterable
from typing import Any

from video_monitoring.core.errors import Unavailable

# Bytes a resumable upload sends per request (a multiple of 256 KiB): the most of a file the
# worker holds in memory besides the encoder's own buffer.
UPLOAD_CHUNK = 4 * 1024 * 1024
EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"


class CloudStorageFiles:
    """FileStore on one bucket; the client is created on first use."""

    def __init__(self, bucket: str, project: str, link_minutes: int, client: Any = None) -> None:
        self._bucket_name = bucket
        self._project = project
        self._link = dt.timedelta(minutes=link_minutes)
        self._client = client

    @property
    def bucket(self) -> Any:
        """The bucket (client created now)."""
        if self._client is None:
            from google.cloud.storage import Client

            self._client = Client(project=self._project)
        return self._client.bucket(self._bucket_name)

    def write(self, name: str, content_type: str, chunks: Iterable[bytes]) -> int:
        """A resumable upload: the object exists only once its last chunk is committed, and a
        failed write cancels the upload. Reading or encoding errors pass as they are; a refused
        upload is Unavailable naming the object and the status."""
        blob = self.bucket.blob(name)
        writer = blob.open("wb", content_type=content_type, chunk_size=UPLOAD_CHUNK)
        size = 0
        try:
            for chunk in chunks:
                self._upload(name, lambda chunk=chunk: writer.write(chunk))
                size += len(chunk)
            self._upload(name, writer.close)
        except BaseException:
            with contextlib.suppress(Exception):
                writer.terminate()
            raise
        return size

    def _upload(self, name: str, step: Any) -> None:
        try:
            step()
        except Exception as error:
            response = getattr(error, "response", None)
            status = getattr(response, "status_code", None) or getattr(error, "code", None)
            raise Unavailable(
                f"Cloud Storage refused the upload to gs://{self._bucket_name}/{name}: "
                f"{f'HTTP {status}' if status else type(error).__name__}"
            ) from error

    def link(self, name: str, download_as: str, now: dt.datetime) -> str:
        """A V4 signed GET URL valid until now + EXPORT_LINK_MINUTES, saving as `download_as`;
        on the emulator its media URL."""
        emulator = os.environ.get(EMULATOR_VARIABLE)
        if emulator:
            base = emulator if "://" in emulator else f"http://{emulator}"
            quoted = urllib.parse.quote(name, safe="")
            return f"{base}/download/storage/v1/b/{self._bucket_name}/o/{quoted}?alt=media"
        import google.auth.transport.requests

        blob = self.bucket.blob(name)
        credentials = self._client._credentials
        signer: dict[str, Any] = {}
        if not hasattr(credentials, "sign_bytes"):
            # No private key (a deployed function): sign through IAM as the runtime account.
            if not credentials.valid:
                credentials.refresh(google.auth.transport.requests.Request())
            signer = {
                "service_account_email": credentials.service_account_email,
                "access_token": credentials.token,
            }
        url: str = blob.generate_signed_url(
            version="v4",
            expiration=now + self._link,
            method="GET",
            response_disposition=f'attachment; filename="{download_as}"',
            **signer,
        )
        return url
