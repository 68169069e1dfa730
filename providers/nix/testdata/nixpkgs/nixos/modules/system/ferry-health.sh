#!/bin/sh
# sw/bin/ferry-health of ferry's stub system @out@: exits 0, or, with
# ferry.test.unhealthy, says the host is unhealthy and exits 1.
if [ "@unhealthy@" = 1 ]; then
  echo "ferry stub: @hostName@ is unhealthy" >&2
  exit 1
fi
exit 0
