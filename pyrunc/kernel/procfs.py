"""Facts about processes read from /proc: start times (to tell a live pid from
a reused one), liveness, and namespace identity; the mountinfo field format
and the kernel's CPU/node list format ("0-3,7", as in Cpus_allowed_list),
which execCPUAffinity and linux.memoryPolicy use too.
Import-light; used by `state`, `kill`, `delete` on every call, and by the
child (init/)."""
import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)


def start_time(pid):
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the comm field may hold spaces and parens: split after the last ')'
    rest = data[data.rfind(b")") + 2:].split()
    if rest[0] == b"Z" or rest[0] == b"X":
        return None  # a zombie has exited: the container is stopped
    return int(rest[19])


def is_alive(pid, expected_start):
    if not pid:
        return False
    st = start_time(pid)
    return st is not None and (expected_start is None or st == expected_start)


def ns_inode(pid, name):
    try:
        return posix.stat(f"/proc/{pid}/ns/{name}").st_ino
    except OSError:
        return None


def write(path, value):
    """Write a small value to a /proc file in one write(2), as procfs wants."""
    fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
    try:
        posix.write(fd, value.encode() if isinstance(value, str) else value)
    finally:
        posix.close(fd)


def unescape_mountinfo(field):
    """A path field of /proc/<pid>/mountinfo as the path it names: the kernel
    writes space, tab, newline and backslash as \\ooo."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


MAX_CPU = 64 * 1024  # runc's sanity limit for a CPU number


def parse_cpu_list(text):
    """"0-3,5, 7-9" -> {0,1,2,3,5,7,8,9}; empty elements are allowed (runc).
    ValueError when it names no CPU or is malformed."""
    cpus = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            start = int(lo.strip())
            end = int(hi.strip()) if sep else start
        except ValueError:
            raise ValueError(f"invalid CPU list element {part!r}") from None
        if start < 0 or end > MAX_CPU:
            raise ValueError(f"CPU numbers must be 0..{MAX_CPU}")
        if start > end:
            raise ValueError(f"invalid range: {part}")
        cpus.update(range(start, end + 1))
    if not cpus:
        raise ValueError(f"no members found in set {text!r}")
    return cpus
