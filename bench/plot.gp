# bench/plot.gp: throughput by clients at synchronous_commit = on, one panel
# per scenario, one line per contender.  run.sh passes workdir (the files
# plot_uniform.dat and plot_hot.dat: clients, then median payments/s of
# naive plpgsql sql enrollment off notify batch; NaN where a contender did not run)
# and out (the PNG).
set terminal pngcairo size 1400,600 font "sans,11" noenhanced
set output out
set multiplot layout 1,2 title "Payments per second by pgbench clients (median), synchronous_commit = on"
set logscale x 2
set logscale y 10
set xtics ("1" 1, "8" 8, "32" 32)
set xrange [0.8:40]
set ytics ("500" 500, "1k" 1000, "2k" 2000, "5k" 5000, "10k" 10000, "20k" 20000, \
           "50k" 50000, "100k" 100000, "200k" 200000)
set ylabel "payments per second (log scale)"
set xlabel "pgbench clients"
set grid
set key opaque box
set datafile missing NaN
array names[7] = ["naive (loses payments)", "plpgsql", "sql (no checks)", \
                  "enrollment (default: events = wal)", "enrollment, events = off", \
                  "enrollment, events = notify", "batch (100 per call)"]
array colors[7] = ["#999999", "#1f77b4", "#2ca02c", "#d62728", "#8c564b", "#ff7f0e", "#9467bd"]
set title "uniform: a random enrollment per payment"
set key inside top left
plot for [i=1:6] workdir."/plot_uniform.dat" using 1:(column(i+1)) \
     with linespoints lw 2 pt 7 lc rgb colors[i] title names[i]
set title "hot: every payment to one enrollment"
set key inside center right
plot for [i=1:7] workdir."/plot_hot.dat" using 1:(column(i+1)) \
     with linespoints lw 2 pt 7 lc rgb colors[i] title names[i]
unset multiplot
