{ ... }: { users.users.git.isNormalUser = true; }
