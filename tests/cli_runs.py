"""Running a raw-skeleton tool (gen_joint_data, gen_pyskl_data) in the test process or as users do, on a folder
of the real fixture files."""
import subprocess
import sys


def skeleton_folder(tmp_path, skeletons, extra=()):
    """`skeletons` (paths, symlinked) plus (name, source) extras, in tmp_path/skeletons; an extra replaces a
    fixture of the same name."""
    folder = tmp_path / 'skeletons'
    folder.mkdir()
    for path in skeletons:
        (folder / path.name).symlink_to(path)
    for name, source in extra:
        target = folder / name
        if target.exists():
            target.unlink()
        target.symlink_to(source)
    return folder


def run_main(main, capsys, *args):
    """main(args) in this process, one worker and no progress bar: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args] + ['--no-progress', '--workers', '1'])
    out, err = capsys.readouterr()
    return code, out, err


def run_script(script, *args):
    """The CLI as users run it, in its own process (its worker pool then forks a clean interpreter)."""
    return subprocess.run([sys.executable, str(script)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=120)
