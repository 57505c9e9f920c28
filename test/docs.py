#!/usr/bin/python3
"""test/docs.py: the docs are checked like code.

  test/docs.py examples   runs every SQL example of README.md and docs/*.md
                          in psql and compares what psql prints with the
                          output the docs show
  test/docs.py links      every relative link of the docs leads to a file
                          and, with a #fragment, to a heading of it
  test/docs.py errors     the errors table of docs/reference.md against the
                          SQLSTATEs that src/ can raise, both ways
  test/docs.py files PAGE FOLDER
                          writes the blocks of PAGE that <!-- file: NAME -->
                          marks into FOLDER (test/recipes.sh)
  test/docs.py errors-table
                          prints "SQLSTATE retry|final|both" for each entry
                          of the errors table (test/recipes.sh)

Prints TAP lines ("ok N - ...", "not ok N - ...", "# ..." diagnostics) and
the plan.  `examples` needs a server (PGHOST, PGPORT, PGUSER: a superuser)
with the extension installed and wal_level = logical, where it may create
and drop the database shop, roles and replication slots: test/docs.sh
starts one.

How the examples are run.  For each file, a new database shop (with the
extension created, except for README.md, whose own example creates it),
then one psql session (psql -X -q, the blocks on its standard input, so
that messages read as a user sees them) runs the file's ```sql blocks in
order.  A block that a fenced block without a language (or ```text)
follows at once has that block as its shown output: what psql prints for
the block must be the same, line for line (trailing spaces and blank lines
at the end aside).  A block without shown output must print no ERROR,
WARNING or FATAL.  A fenced block that the line
<!-- file: NAME --> precedes is written to the file NAME in the session's
working folder first (for \\copy) and not run; an SQL block that
<!-- test/citus.sh runs this block --> precedes needs a Citus cluster and
is run by test/citus.sh instead.  After each file, the database, the roles
and the replication slots the examples created are dropped.
"""

import difflib
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CITUS_MARKER = '<!-- test/citus.sh runs this block -->'
FILE_MARKER = re.compile(r'^<!-- file: (\S+) -->$')
# what psql prints for an error, a warning, or a meta-command that failed
PROBLEM = re.compile(r'^(ERROR|WARNING|FATAL|PANIC):|^psql: |^\\\w+: |'
                     r': No such file or directory$|^invalid command ')

checks = 0
failures = 0


def tap(ok, description, diagnostics=()):
    global checks, failures
    checks += 1
    if not ok:
        failures += 1
    print('%s %d - %s' % ('ok' if ok else 'not ok', checks, description))
    for line in diagnostics:
        print('# ' + line)


def doc_files():
    return ['README.md'] + sorted(os.path.relpath(p, ROOT) for p in
                                  glob.glob(os.path.join(ROOT, 'docs', '*.md')))


def read(path):
    with open(os.path.join(ROOT, path), encoding='utf-8') as f:
        return f.read()


def fenced_blocks(text):
    """Every fenced block: (first line number, language, body, marker),
    marker being the line just before the opening fence."""
    lines = text.split('\n')
    blocks = []
    i = 0
    while i < len(lines):
        m = re.match(r'^( *)```(\S*)\s*$', lines[i])
        if not m:
            i += 1
            continue
        indent = m.group(1)	# a block in a list item is indented
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(indent + '```'):
            body.append(lines[i][len(indent):])
            i += 1
        marker = lines[start - 1].strip() if start > 0 else ''
        blocks.append({'line': start + 1, 'end': i + 1, 'lang': m.group(2),
                       'body': '\n'.join(body) + '\n', 'marker': marker})
        i += 1
    return blocks


def examples(text):
    """The SQL examples, each with its shown output or None, and the files
    to write."""
    blocks = fenced_blocks(text)
    runs, files = [], []
    for n, b in enumerate(blocks):
        m = FILE_MARKER.match(b['marker'])
        if m:
            files.append((m.group(1), b['body']))
            continue
        if b['lang'] != 'sql' or b['marker'] == CITUS_MARKER:
            continue
        shown = None
        if n + 1 < len(blocks):
            nxt = blocks[n + 1]
            if nxt['lang'] in ('', 'text') and nxt['line'] == b['end'] + 1:
                shown = nxt['body']
        runs.append((b, shown))
    return runs, files


def normalized(output):
    lines = [line.rstrip() for line in output.split('\n')]
    while lines and lines[-1] == '':
        lines.pop()
    while lines and lines[0] == '':
        lines.pop(0)
    return lines


def psql(database, script, cwd=None):
    return subprocess.run(['psql', '-X', '-q', '-d', database], input=script,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, cwd=cwd).stdout


def query(sql):
    return subprocess.run(['psql', '-X', '-q', '-t', '-A', '-v',
                           'ON_ERROR_STOP=1', '-d', 'postgres', '-c', sql],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=True).stdout


def reset_cluster():
    """Drop what examples leave behind: slots, the database, roles."""
    query("SELECT count(pg_drop_replication_slot(slot_name)) "
          "FROM pg_replication_slots")
    query('DROP DATABASE IF EXISTS shop WITH (FORCE)')
    for role in query("SELECT rolname FROM pg_roles WHERE oid >= 16384"
                      ).split():
        query('DROP OWNED BY "%s"' % role)
        query('DROP ROLE "%s"' % role)


def run_examples():
    for path in doc_files():
        runs = examples(read(path))[0]
        if not runs:
            continue
        reset_cluster()
        query('CREATE DATABASE shop')
        if path != 'README.md':
            psql('shop', 'CREATE EXTENSION enrollment;\n')
        with tempfile.TemporaryDirectory() as work:
            write_files(path, work)
            script = ''
            for n, (block, _) in enumerate(runs):
                script += '\\echo @@block %d@@\n%s' % (n, block['body'])
            script += '\\echo @@block %d@@\n' % len(runs)
            output = psql('shop', script, cwd=work)
        parts = re.split(r'^@@block \d+@@\n', output, flags=re.M)
        if parts[0].strip() or len(parts) != len(runs) + 2:
            tap(False, '%s: psql ran every example' % path,
                output.split('\n')[-20:])
            continue
        for (block, shown), actual in zip(runs, parts[1:]):
            where = '%s:%d' % (path, block['line'])
            actual = normalized(actual)
            if shown is None:
                bad = [l for l in actual if PROBLEM.search(l)]
                tap(not bad, '%s runs without an error' % where,
                    actual if bad else ())
            else:
                expected = normalized(shown)
                diff = []
                if actual != expected:
                    diff = list(difflib.unified_diff(
                        expected, actual, 'shown', 'printed', lineterm=''))
                tap(not diff, '%s prints what the docs show' % where, diff)
    reset_cluster()


def anchor(heading):
    """The fragment GitHub gives a heading."""
    text = re.sub(r'[`*]', '', heading.strip().lower())
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path):
    text = re.sub(r'^```.*?^```', '', read(path), flags=re.M | re.S)
    return {anchor(m.group(1)) for m in re.finditer(r'^#+ (.*)$', text, re.M)}


def run_links():
    for path in doc_files():
        text = re.sub(r'^```.*?^```', '', read(path), flags=re.M | re.S)
        broken = []
        for target in re.findall(r'\]\(([^)\s]+)\)', text):
            if re.match(r'^[a-z]+:', target):
                continue
            file, _, fragment = target.partition('#')
            file = os.path.normpath(os.path.join(os.path.dirname(path), file)) \
                if file else path
            if not os.path.exists(os.path.join(ROOT, file)):
                broken.append('%s: no file %s' % (target, file))
            elif fragment and (not file.endswith('.md')
                               or fragment not in anchors(file)):
                broken.append('%s: no heading #%s in %s'
                              % (target, fragment, file))
        tap(not broken, '%s: every relative link leads somewhere' % path,
            broken)


def errcodes_h():
    """PostgreSQL's ERRCODE_ macros: name -> SQLSTATE."""
    include = subprocess.run(['pg_config', '--includedir-server'],
                             stdout=subprocess.PIPE, text=True,
                             check=True).stdout.strip()
    codes = {}
    for path in [os.path.join(include, 'utils', 'errcodes.h')] + \
            glob.glob(os.path.join(ROOT, 'src', '*.h')):
        with open(path) as f:
            for m in re.finditer(r"#define\s+(ERRCODE_\w+)\s+MAKE_SQLSTATE"
                                 r"\('(.)',\s*'(.)',\s*'(.)',\s*'(.)',\s*'(.)'\)",
                                 f.read()):
                codes[m.group(1)] = ''.join(m.group(2, 3, 4, 5, 6))
    return codes


def raised_by_source():
    """SQLSTATE -> files of src/ that can raise it."""
    macros = errcodes_h()
    raised = {}
    for path in sorted(glob.glob(os.path.join(ROOT, 'src', '*.c'))):
        text = open(path).read()
        name = os.path.relpath(path, ROOT)
        for m in re.finditer(r'\bereport\(\s*ERROR\b', text):
            depth, i = 0, text.index('(', m.start())
            while True:		# to the parenthesis that closes ereport(
                depth += {'(': 1, ')': -1}.get(text[i], 0)
                if depth == 0:
                    break
                i += 1
            found = re.findall(r'errcode\((ERRCODE_\w+)\)', text[m.start():i])
            for macro in found or ['ERRCODE_INTERNAL_ERROR']:
                raised.setdefault(macros[macro], set()).add(name)
        if re.search(r'\belog\(\s*ERROR\b', text):
            raised.setdefault('XX000', set()).add(name)
    for path in sorted(glob.glob(os.path.join(ROOT, 'src', '*.sql'))):
        text = re.sub(r'--[^\n]*', '', open(path).read())
        name = os.path.relpath(path, ROOT)
        for stmt in re.findall(r'\bRAISE\s+EXCEPTION\b[^;]*;', text, re.I):
            m = re.search(r"\bERRCODE\s*=\s*'([^']+)'", stmt, re.I)
            code = m.group(1) if m else 'P0001'
            if not re.match(r'^[0-9A-Z]{5}$', code):
                code = macros['ERRCODE_' + code.upper()]
            raised.setdefault(code, set()).add(name)
    return raised


def errors_table():
    """docs/reference.md's errors table: each SQLSTATE of its first column
    ("08" for a class, "none" for a lost connection) -> "retry" or "final",
    from its last column ("both" when two rows differ)."""
    text = read('docs/reference.md')
    section = re.search(r'^## Errors\n(.*?)(?=^## |\Z)', text, re.M | re.S)
    codes = {}
    for row in re.findall(r'^\|.*\|$', section.group(1), re.M):
        cells = [c.strip() for c in row.strip('|').split('|')]
        retry = 'retry' if cells[-1].startswith('yes') else 'final'
        found = re.findall(r'`([0-9A-Z]{5}|[0-9A-Z]{2})`', cells[0])
        for code in found + (['none'] if cells[0] == 'none' else []):
            codes[code] = retry if codes.get(code, retry) == retry else 'both'
    return codes


def provoked_by_tests(code):
    """A test that names the SQLSTATE: an expected output, an assertion."""
    paths = glob.glob(os.path.join(ROOT, 'expected', '*.out')) + \
        glob.glob(os.path.join(ROOT, 'sql', '*.sql')) + \
        [p for p in glob.glob(os.path.join(ROOT, 'test', '**', '*'), recursive=True)
                 if os.path.basename(p) not in ('recipes.sh', 'docs.py')]
    for path in paths:
        if os.path.isfile(path) and code in open(path, errors='replace').read():
            return os.path.relpath(path, ROOT)
    return None


# Documented SQLSTATEs of PostgreSQL that no test provokes, and why.
NOT_PROVOKED = {
    '08': 'a class: the connection exceptions of PostgreSQL and Citus',
    '54000': 'needs a NOTIFY queue of 8 GB filled by a listener',
}


def run_errors():
    raised = raised_by_source()
    documented = set(errors_table()) - {'none'}
    missing = sorted(set(raised) - documented)
    tap(not missing,
        'every SQLSTATE that src/ can raise is in the errors table of '
        'docs/reference.md', ['%s (%s) is not in the table'
                              % (c, ', '.join(sorted(raised[c])))
                              for c in missing])
    macros = set(errcodes_h().values())
    unknown = sorted(c for c in documented
                     if len(c) == 5 and c not in macros)
    tap(not unknown, 'every SQLSTATE of the errors table exists',
        ['%s is neither PostgreSQL\'s nor the extension\'s' % c
         for c in unknown])
    others = sorted(documented - set(raised) - set(NOT_PROVOKED))
    unprovoked = [c for c in others if not provoked_by_tests(c)]
    for code, why in sorted(NOT_PROVOKED.items()):
        print('# %s is not looked for in the tests: %s' % (code, why))
    tap(not unprovoked,
        'every SQLSTATE of the errors table that src/ does not raise '
        '(%s) is provoked by a test' % ' '.join(others),
        ['no test names %s' % c for c in unprovoked])


def write_files(path, folder):
    """The blocks of the page that <!-- file: NAME --> marks, as files."""
    for name, body in examples(read(path))[1]:
        with open(os.path.join(folder, name), 'w') as f:
            f.write(body)


def main():
    what = sys.argv[1:] or ['examples', 'links', 'errors']
    if what[0] == 'files':
        write_files(what[1], what[2])
        return
    if what[0] == 'errors-table':
        for code, retry in sorted(errors_table().items()):
            print(code, retry)
        return
    for w in what:
        {'examples': run_examples, 'links': run_links,
         'errors': run_errors}[w]()
    print('1..%d' % checks)
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
