# Serves LemonLDAP::NG's app.psgi as `plackup -s HTTP::Server::PSGI` does in start.sh (same
# server, same development middleware and access log), with two differences the tests need:
#
# - It listens on a socket handed over as standard input. The test process bound it to port 0
#   and held it from then on, so no other process can take the port between choosing it and
#   serving on it (the race `free_port()` had), and connections made before the portal is ready
#   wait in the backlog instead of being refused.
# - It stops when standard output, the read end of a pipe whose write end only the test process
#   holds, reaches end of file: a portal shared by a whole test run stops when the run ends, even
#   when it is killed. With a folder as second argument, that folder is removed then too.
#
# Usage: perl llng_serve.pl APP.psgi [FOLDER-TO-REMOVE] <listening-socket >lifeline
use strict;
use warnings;
use File::Path ();
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Plack::Runner;

my ($psgi, $remove) = @ARGV;
die "usage: perl llng_serve.pl APP.psgi [FOLDER] <listening-socket >lifeline\n" unless $psgi;
# new_from_fd adopts descriptor 0 itself (no dup): standard input stays the socket.
my $listen = IO::Socket::INET->new_from_fd(0, 'r') or die "standard input is not a socket: $!";
open(my $lifeline, '<&', 1) or die "no lifeline on standard output: $!";
open(STDOUT, '>&', \*STDERR) or die "standard output to the log: $!";

my $server = $$;
defined(my $watcher = fork) or die "fork: $!";
if ($watcher == 0) {
    # The watcher must not keep the port open once the server is gone.
    close $listen;
    my $wait = IO::Select->new($lifeline);
    # Ends when the server dies (the test stopped it: we are re-parented) or the lifeline ends:
    # the test process never writes, so readable means end of file.
    while (getppid() == $server) {
        next unless $wait->can_read(1);
        kill 'TERM', $server;
        for (1 .. 100) { last if getppid() != $server; select(undef, undef, undef, 0.1) }
        File::Path::remove_tree($remove) if defined $remove;
        last;
    }
    POSIX::_exit(0);
}
close $lifeline;
my $runner = Plack::Runner->new;
$runner->parse_options('-s', 'HTTP::Server::PSGI', $psgi);
push @{ $runner->{options} }, listen_sock => $listen;
$runner->run;
