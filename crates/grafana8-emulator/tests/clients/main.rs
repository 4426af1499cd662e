//! Real clients, written by others, against the in-process emulator: the second check, after
//! the contract suite, that it answers as Grafana 8.5.4 does.
//!
//! * `python_original`: the Python original, monitoring-as-code 0.0.2 (PyPI), driven by
//!   `python-original/drive.py` through create, no change, update and delete.
//! * `ansible`: Ansible's community.grafana 2.3.0 (in PyPI's `ansible==12.3.0`), one playbook per
//!   area under `ansible/`, each applied twice present and twice absent.
//!
//! # The client virtualenvs
//!
//! The clients run from two virtualenvs outside the repository, under `$MAC_CLIENT_VENVS`
//! (default `$HOME/.cache/mac/clients`):
//!
//! ```text
//! $MAC_CLIENT_VENVS/python-original/   python3 -m venv, then pip install -r tests/clients/python-original/requirements.txt
//! $MAC_CLIENT_VENVS/ansible/           python3 -m venv, then pip install -r tests/clients/ansible/requirements.txt
//! ```
//!
//! (the requirements files are in this folder; `cargo xtask setup` makes both venvs exactly so).
//! A venv that is missing, or whose packages differ from the pins, fails the test with the
//! commands that make it, unless `MAC_TEST_SKIP_MISSING` asks for a skip
//! (`python-original-venv`, `ansible-venv`, or `1`).

mod ansible;
mod python_original;
mod support;
