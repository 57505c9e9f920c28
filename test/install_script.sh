#!/usr/bin/env bash
# test/install_script.sh: static checks of the extension's SQL scripts
# (src/enrollment--*.sql, or the files given as arguments).  Prints one TAP
# line per check, and after a failed one the statements at fault as
# "# FILE:LINE: ...".  Needs no server.
#
# The scripts are read as statements: comments and psql meta-commands are
# dropped, a statement ends at a ";" outside quotes and dollar-quoted
# bodies and is joined into one line, and single-quoted literals, in
# dollar-quoted bodies too, are emptied ('') so that nothing inside them
# counts.  Then, case-insensitive:
#
# 1. The scripts hold statements at all (the reading itself works).
# 2. No CREATE OR REPLACE: it would silently take over an object of the
#    same name that someone else created first.
# 3. Every SECURITY DEFINER function has SET search_path = pg_catalog,
#    pg_temp: nothing another role can write to, pg_temp last.
# 4. An object is written enrollment.x or pg_catalog.x where a statement
#    creates, alters, grants or revokes, references, comments on, triggers
#    on, inserts into or calls it: the name after CREATE/ALTER TABLE, TYPE,
#    FUNCTION and the like, after ON in CREATE INDEX and CREATE TRIGGER,
#    after EXECUTE FUNCTION, REFERENCES, COMMENT ON <kind>, INSERT INTO,
#    each item of GRANT/REVOKE ... ON [kind] <list> (not ON SCHEMA or
#    DATABASE), and each function called in a statement starting with SELECT
#    (not inside its dollar-quoted arguments: those are data, such as the
#    DDL text the 1.1 update hands to its helper).
# 5. The types the scripts create are written enrollment.x wherever they
#    are named (column types, return types, casts).
# 6. No bare operator: outside literals, every run of the characters
#    + - * / < > = ~ ! @ # % ^ & | ` ? must be inside OPERATOR(pg_catalog.x).
#    CHECK and DEFAULT expressions are resolved while CREATE EXTENSION runs,
#    and a function body without a pinned search_path whenever it is called,
#    both with a search_path on which another role may have put operators.
#    Not counted: the bodies of functions that pin their search_path (their
#    operators resolve in pg_catalog), "=" after SET <name> and inside
#    WITH (<storage parameter> = <value>), "=" after the options of a
#    PL/pgSQL RAISE ... USING, "=>" of named arguments, and "*"
#    in "SELECT *", "RETURNING *" and "(*)".  An "UPDATE ... SET a = 1, b = 2"
#    would be flagged from its second column on: rewrite or exempt it then.
set -eu		# no pipefail: a grep that finds nothing is a pass
shopt -s lastpipe	# expect_none, at the end of a pipeline, counts in this shell
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then files=("$@"); else files=(src/enrollment--*.sql); fi
source test/tap.sh

# expect_none DESCRIPTION < offending lines: one TAP line, passing when
# there are none; else the lines follow as comments
expect_none() {
	local found
	found=$(cat)
	tap "$([ -z "$found" ] && echo t)" "$1"
	[ -z "$found" ] || sed 's/^/# /' <<<"$found"
}

# The scripts as "FILE:LINE: statement", one statement per line.
statements() {
	awk '
	function flush() {
		gsub(/[ \t]+/, " ", stmt)
		sub(/^ /, "", stmt)
		if (stmt != "")
			print file ":" start ": " stmt
		stmt = ""
	}
	FNR == 1 { flush(); file = FILENAME; state = "code" }
	state == "code" && stmt ~ /^[ \t]*$/ && /^\\/ { next }	# psql meta-command
	{
		line = $0
		out = ""
		for (i = 1; i <= length(line); ) {
			c = substr(line, i, 1)
			two = substr(line, i, 2)
			if (state == "comment") {
				if (two == "*/") { state = "code"; i += 2 } else i++
			} else if (state == "quote") {
				if (two == "\047\047") i += 2
				else { if (c == "\047") { state = "code"; out = out c } i++ }
			} else if (state == "dollar") {
				if (substr(line, i, length(tag)) == tag) {
					state = "code"; out = out tag; i += length(tag)
				} else { if (c == "\047") state = "body quote"; out = out c; i++ }
			} else if (state == "body quote") {
				if (two == "\047\047") i += 2
				else { if (c == "\047") { state = "dollar"; out = out c } i++ }
			} else if (two == "--") {
				break
			} else if (two == "/*") {
				state = "comment"; i += 2
			} else if (c == "$" && match(substr(line, i), /^\$[A-Za-z_]*\$/)) {
				tag = substr(line, i, RLENGTH)
				state = "dollar"; out = out tag; i += RLENGTH
			} else {
				if (c !~ /[ \t]/ && stmt ~ /^[ \t]*$/ && out ~ /^[ \t]*$/)
					start = FNR
				if (c == "\047") state = "quote"
				out = out c
				i++
				if (c == ";") { stmt = stmt " " out; out = ""; flush() }
			}
		}
		stmt = stmt " " out
	}
	END { flush() }' "${files[@]}"
}

STATEMENTS=$(statements)

# Statements matching an extended regular expression, case-insensitive.
matching() { grep -iE "$1" <<<"$STATEMENTS" || true; }

# 1
count=$(grep -c . <<<"$STATEMENTS" || true)
[ "$count" -gt 0 ] && found= || found="no statement found in ${files[*]}"
expect_none "read $count statements from ${files[*]}" <<<"$found"

# 2
matching 'CREATE OR REPLACE' | expect_none "no CREATE OR REPLACE"

# 3
matching 'SECURITY DEFINER' |
	grep -viE "SET search_path (=|TO) pg_catalog, pg_temp( |;)" |
	expect_none "every SECURITY DEFINER function has SET search_path = pg_catalog, pg_temp"

# 4: the object names each statement creates, alters, grants, references...
object_names() {	# object_names STATEMENT -> one name per line
	local s=$1 kinds='TABLE|TYPE|FUNCTION|PROCEDURE|AGGREGATE|VIEW|MATERIALIZED VIEW|SEQUENCE|DOMAIN|INDEX|OPERATOR|COLLATION|CAST'
	{
		grep -oiE "^(CREATE|ALTER)( UNIQUE)? ($kinds)( IF (NOT )?EXISTS)?( ONLY)? [^ (]+" <<<"$s" |
			grep -viE '^CREATE( UNIQUE)? INDEX' || true
		if grep -qiE '^CREATE( UNIQUE)? INDEX|^CREATE( CONSTRAINT)? TRIGGER' <<<"$s"; then
			grep -oiE " ON( ONLY)? [^ (]+" <<<"$s" | head -1 || true
		fi
		grep -oiE "EXECUTE (FUNCTION|PROCEDURE) [^ (]+" <<<"$s" || true
		grep -oiE "REFERENCES [^ (]+" <<<"$s" || true
		grep -oiE "^COMMENT ON ($kinds|COLUMN|TRIGGER [^ ]+ ON|CONSTRAINT [^ ]+ ON) [^ (]+" <<<"$s" || true
		grep -oiE "^INSERT INTO [^ (]+" <<<"$s" || true
		if grep -qiE '^SELECT ' <<<"$s"; then
			sed -E 's/\$([A-Za-z_]*)\$.*\$\1\$/$$/g' <<<"$s" |
				grep -oE "[A-Za-z_][A-Za-z0-9_.]*\(" | sed 's/($//' || true
		fi
		# GRANT/REVOKE ... ON [kind] a, b(args) TO/FROM ...: each item
		sed -nE "s/^(GRANT|REVOKE) .* ON (TABLE |FUNCTION |SEQUENCE |TYPE |DOMAIN |PROCEDURE |ROUTINE )?(.*) (TO|FROM) .*$/\3/Ip" <<<"$s" |
			grep -viE '^(SCHEMA|DATABASE|LANGUAGE|TABLESPACE|FOREIGN|LARGE OBJECT|ALL [A-Z]+ IN SCHEMA) ' |
			sed -E 's/\([^)]*\)//g; s/, */\n/g' || true
	} | awk 'NF { print $NF }'
}

while IFS= read -r stmt; do
	loc=${stmt%%: *}
	for name in $(object_names "${stmt#*: }"); do
		grep -qiE '^"?(enrollment|pg_catalog)"?\.' <<<"$name" || echo "$loc: $name"
	done
done <<<"$STATEMENTS" |
	expect_none "every object a statement creates, alters, grants, references or calls is enrollment.x or pg_catalog.x"

# 5
types=$(matching ': CREATE TYPE enrollment\.' | sed -E 's/^[^:]*:[0-9]+: CREATE TYPE enrollment\.([A-Za-z0-9_]+).*/\1/I')
for type in $types; do
	sed -E "s/enrollment\.$type\b//Ig" <<<"$STATEMENTS" | grep -iwE "$type" || true
done | expect_none "the types the scripts create (${types//$'\n'/, }) are always written enrollment.x"

# 6: each statement with what is exempt removed, next to the statement
operators_left() {
	sed -E 's/^[^ ]+ //;
		/SET search_path/I s/\$([A-Za-z_]*)\$.*\$\1\$/$$/;
		s/OPERATOR\(pg_catalog\.[^)]+\)//Ig;
		s/\bSET [A-Za-z_.]+ = /SET /Ig;
		s/\bWITH \(([A-Za-z_.]+ = [^,)]+(, )?)+\)//Ig;
		s/\b(ERRCODE|MESSAGE|DETAIL|HINT) = /\1 /Ig;
		s/=>//g;
		s/\b(SELECT|RETURNING) \*//Ig;
		s/\(\*\)//g'
}
paste <(operators_left <<<"$STATEMENTS") - <<<"$STATEMENTS" |
	awk -F '\t' '$1 ~ /[-+*\/<>=~!@#%^&|`?]/ { print $2 }' |
	expect_none "every operator outside literals is OPERATOR(pg_catalog.x)"

tap_done
