# Its argument is the id of the fake.host the machine runs on: known only
# after that host is created.
{ hostId, ... }:
{
  networking.domain = "${hostId}.fake.example";
}
