"""Running a raw-skeleton tool (gen_joint_data, gen_pyskl_data) in the test process or as users do."""
import subprocess
import sys


def run_main(main, capsys, *args):
    """main(args) in this process, one worker and no progress bar: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args] + ['--no-progress', '--workers', '1'])
    out, err = capsys.readouterr()
    return code, out, err


def run_script(script, *args):
    """The CLI as users run it, in its own process (its worker pool then forks a clean interpreter)."""
    return subprocess.run([sys.executable, str(script)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=120)
