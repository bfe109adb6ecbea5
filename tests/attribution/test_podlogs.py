"""The /var/log/pods join: folder names <namespace>_<name>_<uid>."""

from __future__ import annotations

from pathlib import Path

from gputel.agent.attribution import PodLogDirectory

UID = "40934a46-d409-4f4a-bb8b-1ec0b0436320"
LATER = "ae7a96fb-2bdc-46b0-96e2-78e4af94847b"
S = 1_000_000_000


def test_both_directions(tmp_path: Path) -> None:
    (tmp_path / f"ml_trainer-0_{UID}").mkdir()
    (tmp_path / "kube-system_coredns-7db6d8ff4d-2xk8p").mkdir()  # no UID: skipped
    pods = PodLogDirectory(tmp_path)
    assert pods.lookup(UID, 0) == ("ml", "trainer-0")
    assert pods.uid_of("ml", "trainer-0", 0) == UID


def test_unknown_pods_rescan_at_most_once_per_gap(tmp_path: Path) -> None:
    pods = PodLogDirectory(tmp_path, min_gap_ns=1 * S)
    assert pods.lookup(LATER, 0) is None
    (tmp_path / f"ml_infer-1_{LATER}").mkdir()
    assert pods.lookup(LATER, S // 2) is None  # too soon to read the folder again
    assert pods.lookup(LATER, S) == ("ml", "infer-1")


def test_missing_folder_is_no_error(tmp_path: Path) -> None:
    assert PodLogDirectory(tmp_path / "absent").lookup(UID, 0) is None
