#!/bin/bash
# The module's KUnit suite runs when it loads; all cases pass.
. selftests/lib.sh

load_rs
res=/sys/kernel/debug/kunit/ipvs_rs/results
[ -r $res ] || fail "no KUnit results at $res (suite not registered?)"
# Re-indent the cases as subtests for the harness.
grep -E '^ +(not )?ok ' $res | sed -E 's/^ +/    /'
cases=$(grep -cE '^ +ok ' $res)
[ "$cases" -ge 5 ] || fail "expected at least 5 passing cases, saw $cases"
if grep -qE '^ +not ok ' $res; then
	# What the failed cases expected (kexpect's messages).
	grep -E '^ +# ' $res | sed -E 's/^ +/# /'
	fail "a KUnit case failed"
fi
grep -qE '^ok [0-9]+ ipvs_rs' $res || fail "suite did not report ok"
rmmod ipvs_rs
