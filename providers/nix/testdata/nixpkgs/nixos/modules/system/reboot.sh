#!/bin/sh
# sw/bin/reboot of ferry's stub system @out@: asks the test host to reboot by
# writing /run/ferry-test/reboot-request ("reboot", or "halt" with
# ferry.test.noReturnAfterReboot); the test-host harness watches for it and
# restarts the host into /run/ferry-test/boot-system. Arguments are ignored.
set -eu
PATH=/usr/local/bin:/usr/bin:/bin:$PATH
request=reboot
if [ "@noReturnAfterReboot@" = 1 ]; then request=halt; fi
mkdir -p /run/ferry-test
printf '%s' "$request" > /run/ferry-test/reboot-request.ferry-tmp
mv -f /run/ferry-test/reboot-request.ferry-tmp /run/ferry-test/reboot-request
echo "ferry stub: $request of @hostName@ requested"
