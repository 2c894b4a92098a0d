#!/usr/bin/python3
"""The docs against what tests/support/doc_commands.cmake's doc() ran.

usage: doc_pages_check.py DOCLOG COUNT MIN_COMMANDS SRC [--skip PREFIX]... --pages PATH START END ...

Every `$ ` command of the page sections (START up to END, END "-" = the page's end; ```sh blocks
count one command per line, here-documents included) must have been run, must have failed exactly
when an `error:` (or CLI11 "Run with --help") line is shown, and must have printed every line shown
("..." stands for left-out lines). At least MIN_COMMANDS commands are checked.
"""
import re
import sys


def norm(cmd):
    return ' '.join(cmd.replace('\\\n', ' ').split())


def here_document(cmd, lines):
    if '<<' in cmd:  # up to its end marker
        end = cmd.split('<<')[1].strip().strip("'")
        while lines and cmd.split('\n')[-1] != end:
            cmd += '\n' + lines.pop(0)
    return cmd


def commands(text):  # (command, shown output lines)
    for lang, body in re.findall(r'```(\w*)\n(.*?)```', text, re.S):
        lines = body.rstrip('\n').split('\n')
        if lang == 'sh':
            while lines:
                yield here_document(lines.pop(0), lines), []
        elif lang == '':
            while lines:
                if not lines[0].startswith('$ '):
                    lines.pop(0)
                    continue
                cmd = lines.pop(0)[2:]
                while cmd.endswith('\\') or cmd.count('"') % 2:
                    cmd += '\n' + lines.pop(0)
                cmd = here_document(cmd, lines)
                shown = []
                while lines and not lines[0].startswith('$ '):
                    shown.append(lines.pop(0).rstrip())
                yield cmd, shown


def main():
    doclog, count, minimum, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rest = sys.argv[5:]
    skipped = []
    while rest and rest[0] == '--skip':
        skipped.append(rest[1])
        rest = rest[2:]
    assert rest and rest[0] == '--pages' and (len(rest) - 1) % 3 == 0, sys.argv
    pages = [tuple(rest[i:i + 3]) for i in range(1, len(rest), 3)]
    ran = {}
    for n in range(1, count + 1):
        def read(ext):
            return open('%s/%d.%s' % (doclog, n, ext)).read()
        ran[norm(read('cmd'))] = (int(read('rc')), [l.rstrip() for l in read('out').splitlines()])
    checked = 0
    for path, start, end in pages:
        page = open('%s/%s' % (src, path)).read()
        page = page[page.index(start):]
        if end != "-":
            page = page[:page.index(end)]
        for cmd, shown in commands(page):
            if any(cmd.startswith(s) for s in skipped):
                continue
            assert norm(cmd) in ran, '%s: this command was not run by the test: %s' % (path, cmd)
            rc, out = ran[norm(cmd)]
            fails = any(l.startswith('error:') or l.startswith('Run with --help') for l in shown)
            assert (rc != 0) == fails, '%s: %s exited with %d' % (path, cmd, rc)
            for line in shown:
                if line != '...':
                    assert line in out, '%s: %s\n  shows: %s\n  but printed:\n%s' % (path, cmd, line, '\n'.join(out))
            checked += 1
    assert checked >= minimum, 'only %d documented commands checked' % checked
    print(checked, 'documented commands checked')


if __name__ == '__main__':
    main()
