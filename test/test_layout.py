"""The package layout's rules, read from the code: the policy side and the robot side never import each
other, the shared package imports neither, nothing imports the bringup package, and no module grows
past what one person holds in their head."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ('pi0_common', 'pi0_policy', 'pi0_drivers', 'pi0_sim', 'pi0_recording', 'pi0_bringup')
ROBOT_SIDE = {'pi0_drivers', 'pi0_sim', 'pi0_recording'}
FORBIDDEN = {
    'pi0_common': set(PACKAGES) - {'pi0_common'},
    'pi0_policy': ROBOT_SIDE | {'pi0_bringup'},
    'pi0_drivers': {'pi0_policy', 'pi0_bringup', 'pi0_sim', 'pi0_recording'},
    'pi0_sim': {'pi0_policy', 'pi0_bringup', 'pi0_drivers', 'pi0_recording'},
    'pi0_recording': {'pi0_policy', 'pi0_bringup', 'pi0_sim'},
    'pi0_bringup': set(),
}
MAX_LINES = 400
LONGER_ALLOWED = {'pi0_policy/pi0_policy/model/pi0.py'}     # the whole network in one readable file


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package / package).rglob('*.py'))


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split('.')[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split('.')[0])
    return names


@pytest.mark.parametrize('package', PACKAGES)
def test_packages_import_only_what_the_layout_allows(package):
    assert modules(package), f'{package} has no modules'
    for path in modules(package):
        bad = imported_packages(path) & FORBIDDEN[package]
        assert not bad, f'{path.relative_to(ROOT)} imports {sorted(bad)}'


def test_nothing_imports_the_bringup_package():
    for package in set(PACKAGES) - {'pi0_bringup'}:
        for path in modules(package):
            assert 'pi0_bringup' not in imported_packages(path), path.relative_to(ROOT)


def test_no_module_is_too_long_to_hold_in_ones_head():
    long = [(str(p.relative_to(ROOT)), n) for package in PACKAGES for p in modules(package)
            if (n := len(p.read_text().splitlines())) > MAX_LINES and str(p.relative_to(ROOT)) not in LONGER_ALLOWED]
    assert not long, f'over {MAX_LINES} lines: {long}'
