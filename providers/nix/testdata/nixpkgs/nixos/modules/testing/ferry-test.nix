# Knobs for ferry's tests (see README.md).
{ lib, ... }:
{
  options.ferry.test = {
    failEval = lib.mkEnableOption "an evaluation error when the system is evaluated";
    failBuild = lib.mkEnableOption "a failing builder for the system";
    failActivation = lib.mkEnableOption "a failing switch-to-configuration";
    cutSSH = lib.mkEnableOption "a switch-to-configuration (switch, test) that moves /root/.ssh/authorized_keys away, so new SSH logins fail";
    unhealthy = lib.mkEnableOption "a sw/bin/ferry-health that reports the host unhealthy and exits 1";
    noReturnAfterReboot = lib.mkEnableOption "a sw/bin/reboot that asks the test host to halt instead of rebooting";
    buildLogLines = lib.mkOption {
      type = lib.types.int;
      default = 0;
      description = "Lines the system's builder prints before building (numbered, half to stdout, half to stderr): a build with a log.";
    };
    activationDelay = lib.mkOption {
      type = lib.types.int;
      default = 0;
      description = "Seconds switch-to-configuration (switch, test) sleeps before activating: a slow activation.";
    };
  };
}
