"Integration tests of `deepearth.grid4d` with the other modules: config presets, training statistics, checkpoints."
from pathlib import Path

import numpy as np
import pytest
import torch

from deepearth.config import preset
from deepearth.geo import geodetic_to_ecef
from deepearth.grid4d import PositionEncoder, RangeNormaliser, hash_grid_reference
from deepearth.preprocess import DatasetStatistics

LAT, LON = np.array([28.04, 28.6, 29.2, 29.73]), np.array([-82.03, -81.8, -81.6, -81.39])  # the NEON Florida box
XYZ = geodetic_to_ecef(LAT, LON, np.array([15.0, 20.0, 30.0, 48.0]))
T = np.array([1.3734e9, 1.45e9, 1.6e9, 1.7036e9])  # 2013-07 .. 2023-12, epoch seconds


def _stats():
    return DatasetStatistics(xyz_min=XYZ.min(0).tolist(), xyz_max=XYZ.max(0).tolist(), t0=float(T.min()), t1=float(T.max()))


def test_from_config_reads_training_statistics_and_preset():
    torch.manual_seed(0)
    cfg = preset('tiny')
    pe = PositionEncoder.from_config(cfg, _stats())
    nrm = RangeNormaliser.fit(XYZ, T, margin=cfg.grid4d.fit_margin)
    assert (pe.normaliser.extent_m, pe.normaliser.duration_s) == (nrm.extent_m, nrm.duration_s)
    assert pe.grid.xyz_grid.hashmap_size == 2 ** cfg.grid4d.log2_hashmap_size
    x, t = torch.from_numpy(XYZ), torch.from_numpy(T)
    assert pe(x, t).shape == (4, pe.out_dim)
    assert pe.out_dim == pe.spatial_dim + pe.temporal_dim + pe.spacetime_dim


def test_vectorised_matches_reference_including_far_out_points():
    torch.manual_seed(0)
    pe = PositionEncoder.from_config(preset('tiny'), _stats()).double()
    u = torch.rand(300, 4, dtype=torch.float64) * 3 - 1  # a third of each axis inside the cube, the rest far outside
    for grid, cols in ((pe.grid.xyz_grid, 3), (pe.grid.st_grids, 4)):
        with torch.no_grad(): grid.table.normal_()
        ref = hash_grid_reference(grid, u[:, :cols])
        assert torch.allclose(grid(u[:, :cols]), ref, atol=1e-10, rtol=0)


def test_checkpoint_file_round_trip_and_bf16_cast(tmp_path: Path):
    torch.manual_seed(0)
    pe = PositionEncoder.from_config(preset('tiny'), _stats())
    x, t = torch.from_numpy(XYZ), torch.from_numpy(T)
    torch.save(pe.state_dict(), tmp_path / 'pe.pt')
    torch.manual_seed(1)
    pe2 = PositionEncoder.from_config(preset('tiny'), RangeNormaliser.fit(XYZ, T))
    pe2.load_state_dict(torch.load(tmp_path / 'pe.pt', weights_only=True))
    assert torch.equal(pe2(x, t), pe(x, t))
    origin = pe2.normaliser.xyz_origin
    pe2.to(torch.bfloat16)  # casting the model must not round the normaliser's float64 constants
    assert pe2.normaliser.xyz_origin == origin


def test_continental_extent_levels_are_hashed():
    "A 1 m level over 9,400 km needs 72 bits of vertex index: it is hashed (was an int64 overflow to a 0-row level)."
    from deepearth.grid4d import HashGrid
    g = HashGrid([[9_400_000] * 3, [4] * 3])
    assert g.hashed.tolist() == [True, False]
    assert g.sizes.tolist() == [2 ** 19, 2 ** 9]
    u = torch.linspace(0, 1, 3000).reshape(1000, 3)
    out = g(u)
    assert out.shape == (1000, 4) and torch.isfinite(out).all()


@pytest.mark.slow
def test_train_on_a_continental_archive(tmp_path):
    "The ISU birds archive spans four continents: `deepearth train` with the preset's 1 m levels runs (it used to crash)."
    import subprocess, sys
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, '-m', 'deepearth.cli', 'train', str(root / 'data/gbif/isu_birds_dwca'),
                        '--preset', 'tiny', '--max-steps', '3', '--max-test-rows', '200', '--out', str(tmp_path / 'run')],
                       capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / 'run' / 'last.pt').is_file() and (tmp_path / 'run' / 'metrics.json').is_file()
