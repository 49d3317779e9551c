"""Profile fields issue 20 adds: region lists, a business-hours schedule, and contradictions
rejected as bad input (one line naming the field), including unknown regions with the nearest
valid names. The CLI turns ProfileError into exit 2."""
from __future__ import annotations

import subprocess
import sys

import pytest

from advisor.models import ProfileError, known_regions, parse_profile, parse_profile_text, profile_to_yaml


def error_of(data: dict) -> str:
    with pytest.raises(ProfileError) as e:
        parse_profile(data, "p.yaml")
    return str(e.value)


def test_average_above_peak_is_rejected_naming_both_fields():
    msg = error_of({"inference": {"peak_rps": 5, "average_rps": 10}})
    assert msg == "p.yaml: inference: average_rps 10 is above peak_rps 5; the average cannot exceed the peak"


def test_average_equal_to_peak_is_fine():
    assert parse_profile({"inference": {"peak_rps": 5, "average_rps": 5}}).inference.average_rps == 5


def test_unknown_region_names_the_nearest_valid_ones():
    msg = error_of({"region": "eastus3"})
    assert msg.startswith("p.yaml: region: unknown Azure region 'eastus3'; nearest valid: ")
    assert {"eastus", "eastus2"} <= set(msg.split("nearest valid: ")[1].split(", "))


def test_a_partial_region_name_still_gets_suggestions():
    assert "westeurope" in error_of({"region": "europe"}) and "northeurope" in error_of({"region": "europe"})


def test_every_region_of_the_learn_list_is_accepted():
    regions = known_regions()
    assert len(regions) >= 50 and {"eastus", "westeurope", "swedencentral", "westus3"} <= set(regions)
    for name in ("swedencentral", "westus3", "australiaeast"):
        assert parse_profile({"region": name}).region == name


def test_region_list_keeps_the_primary_in_region_and_all_in_regions():
    p = parse_profile({"region": ["westeurope", "northeurope"]})
    assert p.region == "westeurope" and p.regions == ["westeurope", "northeurope"]
    assert p.active_regions == ["westeurope", "northeurope"]
    again = parse_profile_text(profile_to_yaml(p))  # round trip through the YAML the UI exports
    assert again.active_regions == ["westeurope", "northeurope"]


def test_single_region_profile_is_active_in_one_region():
    assert parse_profile({}).active_regions == ["eastus"]


@pytest.mark.parametrize("data,needle", [
    ({"region": []}, "an empty list names no region"),
    ({"region": ["eastus", "eastus"]}, "regions: a region is listed twice"),
    ({"region": ["eastus", "narnia"]}, "unknown Azure region 'narnia'"),
    ({"region": "westeurope", "regions": ["eastus", "westeurope"]}, "must be the first of regions"),
])
def test_bad_region_lists(data, needle):
    assert needle in error_of(data)


def test_schedule_business_hours():
    p = parse_profile({"scale": {"schedule": {"days": "mon-fri", "hours": "08:00-18:00", "timezone": "Europe/Paris"}}})
    assert p.scale.schedule.busy_hours_per_week() == 50
    assert parse_profile({"scale": {"schedule": {"days": "sat-sun", "hours": "00:00-24:00"}}}).scale.schedule \
        .busy_hours_per_week() == 48
    assert parse_profile({}).scale.schedule is None


@pytest.mark.parametrize("schedule,needle", [
    ({"days": "mon-fry"}, "scale.schedule.days: days 'mon-fry' must name days"),
    ({"hours": "18:00-08:00"}, "scale.schedule.hours: hours '18:00-08:00' must end after they start"),
    ({"hours": "8-18"}, "must look like 08:00-18:00"),
    ({"timezone": "Europe/Pari"}, "unknown time zone 'Europe/Pari'; did you mean Europe/Paris"),
    ({"weekdays": "mon"}, "scale.schedule.weekdays: unknown field"),
])
def test_bad_schedules_name_the_field(schedule, needle):
    assert needle in error_of({"scale": {"schedule": schedule}})


def test_cli_exits_2_on_contradictory_input(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("inference: {peak_rps: 2, average_rps: 3}\n")
    r = subprocess.run([sys.executable, "-m", "deployers.cli", "recommend", "-q", "-p", str(prof)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "average_rps 3 is above peak_rps 2" in r.stderr and "Traceback" not in r.stderr
