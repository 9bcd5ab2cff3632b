#!/usr/bin/perl
# SMPP 3.4 SMSC simulator for the SMS outlet's integration tests (tests/integration/kannel_process.cpp).
# Serves one ESME connection at a time (Kannel with transceiver-mode); binds an OS-chosen port and writes
# it to --port-file, so tests never use a fixed port. Per destination number it either delivers
# (deliver_sm receipt stat:DELIVRD), fails delivery (stat:UNDELIV err:001), or rejects at submit
# (submit_sm_resp status 0x0000000B, invalid destination address). Every PDU it handles is logged as one
# line to --log (submit lines carry data_coding, esm_class and the short message in hex).
#
# Usage: smpp_sim.pl --port-file FILE --log FILE [--rule NUMBER=delivered|undeliverable|rejected]...
use strict;
use warnings;
use Getopt::Long;
use IO::Handle;
use POSIX qw(strftime);
use Net::SMPP;

my ($portFile, $logFile);
my @rules;
GetOptions('port-file=s' => \$portFile, 'log=s' => \$logFile, 'rule=s' => \@rules)
    or die "usage: smpp_sim.pl --port-file FILE --log FILE [--rule NUMBER=outcome]...\n";
die "--port-file and --log are required\n" unless $portFile && $logFile;

my %outcome;  # destination (as Kannel sends it, digits with optional +) -> outcome
for my $r (@rules) {
    my ($number, $what) = split /=/, $r, 2;
    die "bad --rule '$r': expected NUMBER=delivered|undeliverable|rejected\n"
        unless defined $what && $what =~ /^(delivered|undeliverable|rejected)$/;
    $outcome{$number} = $what;
}

open(my $log, '>>', $logFile) or die "cannot open $logFile: $!\n";
$log->autoflush(1);
sub logLine { print $log strftime('%H:%M:%S', localtime) . ' ' . join(' ', @_) . "\n"; }

my $listener = Net::SMPP->new_listen('127.0.0.1', port => 0, timeout => 0)
    or die "smpp_sim: cannot listen: $!\n";
my $port = $listener->sockport();
# Write the port file atomically: the harness polls for it.
open(my $pf, '>', "$portFile.tmp") or die "cannot write $portFile.tmp: $!\n";
print $pf "$port\n";
close $pf;
rename("$portFile.tmp", $portFile) or die "cannot rename to $portFile: $!\n";
logLine("listening on 127.0.0.1:$port");

$SIG{TERM} = sub { logLine('SIGTERM, exiting'); exit 0; };

my $nextId = 1000;
sub stamp { strftime('%y%m%d%H%M', localtime) }
sub numberOutcome {
    my ($to) = @_;
    (my $bare = $to) =~ s/^\+//;
    return $outcome{$to} // $outcome{$bare} // $outcome{"+$bare"} // 'delivered';
}

while (1) {
    my $smpp = $listener->accept() or next;
    logLine('connection accepted');
    while (1) {
        my $pdu = $smpp->read_pdu();
        last unless $pdu;
        my $cmd = $pdu->{cmd};
        if ($cmd == 0x00000009 || $cmd == 0x00000002 || $cmd == 0x00000001) {  # bind_transceiver/transmitter/receiver
            logLine(sprintf('bind cmd=0x%08x system_id=%s', $cmd, $pdu->{system_id} // ''));
            if ($cmd == 0x00000009) { $smpp->bind_transceiver_resp(system_id => "alertbus-sim", seq => $pdu->{seq}); }
            elsif ($cmd == 0x00000002) { $smpp->bind_transmitter_resp(system_id => "alertbus-sim", seq => $pdu->{seq}); }
            else { $smpp->bind_receiver_resp(system_id => "alertbus-sim", seq => $pdu->{seq}); }
        } elsif ($cmd == 0x00000015) {  # enquire_link
            $smpp->enquire_link_resp(seq => $pdu->{seq});
        } elsif ($cmd == 0x00000006) {  # unbind
            logLine('unbind');
            $smpp->unbind_resp(seq => $pdu->{seq});
            last;
        } elsif ($cmd == 0x80000005) {  # deliver_sm_resp
            logLine(sprintf('deliver_sm_resp seq=%d status=%d', $pdu->{seq}, $pdu->{status}));
        } elsif ($cmd == 0x00000004) {  # submit_sm
            my $to = $pdu->{destination_addr};
            my $what = numberOutcome($to);
            logLine(sprintf('submit_sm from=%s to=%s data_coding=%d esm_class=%d registered_delivery=%d outcome=%s sm=%s',
                            $pdu->{source_addr}, $to, $pdu->{data_coding}, $pdu->{esm_class},
                            $pdu->{registered_delivery}, $what, unpack('H*', $pdu->{short_message})));
            if ($what eq 'rejected') {
                $smpp->submit_sm_resp(seq => $pdu->{seq}, status => 0x0000000B, message_id => '');
                next;
            }
            my $id = $nextId++;
            $smpp->submit_sm_resp(seq => $pdu->{seq}, message_id => "$id");
            next unless ($pdu->{registered_delivery} & 0x01);
            my ($stat, $err, $dlvrd) = $what eq 'delivered' ? ('DELIVRD', '000', '001') : ('UNDELIV', '001', '000');
            my $receipt = sprintf('id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:',
                                  $id, $dlvrd, stamp(), stamp(), $stat, $err);
            $smpp->deliver_sm(source_addr => $to, destination_addr => $pdu->{source_addr},
                              esm_class => 0x04, data_coding => 0, short_message => $receipt, async => 1);
            logLine("deliver_sm receipt $receipt");
        } else {
            logLine(sprintf('unhandled cmd=0x%08x, generic_nack', $cmd));
            $smpp->generic_nack(seq => $pdu->{seq}, status => 0x00000003);
        }
    }
    logLine('connection closed');
    close $smpp;
}
