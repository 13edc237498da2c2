"""backend: the allocator settings applied at import, and their opt-out."""
import os
import subprocess
import sys

import striate.backend as backend


def _tuned_in_child(env_value):
    env = {k: v for k, v in os.environ.items() if k != "STRIATE_NO_MALLOPT"}
    if env_value is not None:
        env["STRIATE_NO_MALLOPT"] = env_value
    code = "import striate.backend as b; print(b.malloc_tuned)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError, AttributeError):  # musl, or no confstr
        return False


def test_malloc_tuned_is_reported_as_a_bool():
    assert isinstance(backend.malloc_tuned, bool)


def test_no_mallopt_environment_variable_leaves_malloc_alone():
    assert _tuned_in_child("1") == "False"
    default = _tuned_in_child(None)
    # glibc Linux applies the settings; elsewhere (macOS, musl) nothing is changed
    assert default == str(_glibc())
