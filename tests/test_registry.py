from actclr import registry, skeleton


def test_ntu_benchmarks_follow_official_rules():
    ntu60 = registry.get_dataset("ntu60")
    assert ntu60.num_classes == 60
    assert ntu60.benchmarks["xsub"].split_of(1) == "train"
    assert ntu60.benchmarks["xsub"].split_of(3) == "test"
    assert ntu60.benchmarks["xview"].split_of(1) == "test"
    ntu120 = registry.get_dataset("ntu120")
    assert ntu120.benchmarks["xset"].split_of(32) == "train"
    assert ntu120.benchmarks["xset"].split_of(31) == "test"
    assert len(ntu120.benchmarks["xsub"].train) == 53 and len(ntu120.benchmarks["xsub"].test) == 53


def test_pkummd_registry():
    p1 = registry.get_dataset("pkummd1")
    assert p1.num_classes == 51 and 12 in p1.two_person
    assert p1.benchmarks["xsub"].split_of("0291-L") == "test"
    assert p1.benchmarks["xsub"].split_of("0002-L") == "train"
    assert registry.pkummd_camera("M") == 2


def test_skeleton_constants_are_consistent():
    assert len(skeleton.EDGES) == 24
    assert skeleton.PARENTS[skeleton.CENTER] == skeleton.CENTER
    assert sorted(skeleton.FLIP_PERMUTATION) == list(range(25))
    flip = skeleton.FLIP_PERMUTATION
    assert all(flip[flip[j]] == j for j in range(25))
    assert sorted(j for part in skeleton.BODY_PARTS for j in part) == list(range(25))
    seen = set()
    for j in skeleton.TREE_ORDER:
        assert skeleton.PARENTS[j] in seen or j == skeleton.CENTER
        seen.add(j)
