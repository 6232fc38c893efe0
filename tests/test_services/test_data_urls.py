"""Signed data endpoint URLs: one blob, one region, for a short time."""
from urllib.parse import parse_qs, urlsplit

import pytest

from replication.models import Region
from replication.services.data_urls import InvalidDataUrl, data_url_check, data_url_sign

REPOSITORY, DIGEST = "contoso/app", "sha256:" + "a" * 64
NOW = 1_800_000_000


def signed_parts(**overrides):
    region = Region(name="westeurope", data_endpoint="http://127.0.0.1:5201")
    url = urlsplit(data_url_sign(region=region, repository=REPOSITORY, digest=DIGEST, now=NOW))
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert url.path == f"/v2/{REPOSITORY}/blobs/{DIGEST}"
    return {"region_name": "westeurope", "repository": REPOSITORY, "digest": DIGEST, **query, **overrides}


def test_a_signed_url_is_accepted_until_it_expires(settings):
    settings.DATA_URL_LIFETIME = 300
    data_url_check(**signed_parts(), now=NOW + 300)
    with pytest.raises(InvalidDataUrl, match="expired"):
        data_url_check(**signed_parts(), now=NOW + 301)


@pytest.mark.parametrize("changed", [{"region_name": "westus"}, {"repository": "contoso/other"},
                                     {"digest": "sha256:" + "b" * 64}, {"expires": str(NOW + 10_000)},
                                     {"signature": "0" * 64}, {"signature": ""}, {"expires": "soon"}])
def test_a_url_changed_in_any_part_is_refused(changed):
    with pytest.raises(InvalidDataUrl):
        data_url_check(**signed_parts(**changed), now=NOW)
