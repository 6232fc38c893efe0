"""Settings of a data endpoint process: the global endpoint's, with the data endpoint's URLconf and its region."""
import os

from .endpoint_settings import *  # noqa: F401,F403

ROOT_URLCONF = "portal.data_endpoint_urls"
# The one region whose registry this process serves (`run_data_endpoint REGION` sets it).
DATA_ENDPOINT_REGION = os.environ.get("DATA_ENDPOINT_REGION", "")
