import numrnn.data
from numrnn.data import datasets


def test_data_exports_everything_datasets_exports():
    assert set(datasets.__all__) <= set(numrnn.data.__all__)
    for name in datasets.__all__:
        assert getattr(numrnn.data, name) is getattr(datasets, name), name


def test_every_exported_name_is_bound():
    missing = [n for n in numrnn.data.__all__ if not hasattr(numrnn.data, n)]
    assert missing == []
    assert len(set(numrnn.data.__all__)) == len(numrnn.data.__all__)
