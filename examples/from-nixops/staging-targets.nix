# The physical half: where each machine is (NixOps targetEnv "none").
{ gitHost ? "10.0.0.2", gitPort ? 22, proxyHost ? "10.0.0.3", proxyPort ? 22, ... }:
{
  gitServer = {
    deployment.targetHost = gitHost;
    deployment.targetPort = gitPort;
    deployment.tags = [ "git" "staging" ];
  };
  proxy = {
    deployment.targetHost = proxyHost;
    deployment.targetPort = proxyPort;
    deployment.tags = [ "proxy" "staging" ];
    deployment.keys.proxy-token = { text = "not-a-real-token"; permissions = "0400"; };
  };
}
