"""The one development / final-test split of people, and bases that never saw the final group."""

from __future__ import annotations

import json

import pytest

from bci_app.errors import ConfigError
from bci_app.models.pretrained import PRETRAINED_DIR, list_base_models
from pretraining.split import development_group, final_group, is_final_test, split_people

SHARED = ["S001", "S002", "S004", "S005", "S006", "S007", "S008", "S009", "S010", "S011", "S012", "S014", "S018",
          "S019", "S021", "S023", "S042", "S055", "S056", "S057", "S058", "S059", "S060", "S061", "S062", "S063"]


def test_split_of_the_shared_people_is_the_documented_one():
    dev, final = split_people(SHARED)
    assert final == ["S006", "S008", "S014", "S018", "S056", "S061", "S062", "S063"]
    assert len(dev) == 18 and not set(dev) & set(final) and sorted(dev + final) == SHARED


def test_membership_is_per_person_so_more_people_never_move_anyone():
    more = SHARED + [f"S{i:03d}" for i in range(64, 110)]
    assert set(final_group(SHARED)) <= set(final_group(more))
    assert set(development_group(SHARED)) <= set(development_group(more))
    assert 0.2 < len(final_group(more)) / len(more) < 0.4  # about 30 %
    assert is_final_test("s006") and not is_final_test("S001")


def test_bad_person_id_is_a_clear_error():
    with pytest.raises(ConfigError, match="EEGMMIDB person id"):
        is_final_test("subject-1")


@pytest.mark.parametrize("name", list_base_models(include_folds=True))
def test_no_shipped_base_saw_a_final_test_person(name):
    """The model JSON lists the people and files it was trained on; none is in the final group."""
    meta = json.loads((PRETRAINED_DIR / f"{name}.json").read_text(encoding="utf-8"))["metadata"]
    trained = set(meta["training_subjects"]) | {f.split("/")[0] for f in meta["data_sha256"]}
    assert not trained & set(final_group(SHARED)), (name, sorted(trained & set(final_group(SHARED))))
