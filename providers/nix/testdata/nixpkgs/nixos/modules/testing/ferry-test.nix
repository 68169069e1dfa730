# Knobs for ferry's tests.
{ lib, ... }:
{
  options.ferry.test = {
    failEval = lib.mkEnableOption "an evaluation error when the system is evaluated";
    failBuild = lib.mkEnableOption "a failing builder for the system";
    failActivation = lib.mkEnableOption "a failing switch-to-configuration";
  };
}
