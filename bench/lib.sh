# Helpers shared by the bench/ scripts; source it: . "$ROOT/bench/lib.sh"

# Median of the numbers on stdin, one a line; fails on no input.
median_of() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# The given fields (e.g. median_ms min_ms) of the last JSON line on stdin
# (`edgeflow bench --json`, bench/ort_runner.js --json), space-separated.
json_fields() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const l=s.trim().split("\n").filter(x=>x.startsWith("{")).pop();if(!l)process.exit(1);const j=JSON.parse(l);console.log(process.argv.slice(1).map(k=>j[k]).join(" "))})' "$@"
}

# Exits with an error when the edgeflow binary $1 is not built.
need_edgeflow() { [ -x "$1" ] || { echo "error: $1 not built (./x build)" >&2; exit 1; }; }

# The 1, 5 and 15 minute load averages.
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
