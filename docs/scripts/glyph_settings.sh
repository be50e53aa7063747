# Sourced by glyphs.sh, gpu_issue12.sh and issue12_cpu.sh: the glyph table's learners and their inner loops,
# kept in one place so the CPU and GPU runs of a cell train the same thing.
# Inner-loop settings follow the MAML paper's Omniglot protocol: 5-way, one step at lr 0.4 (3 steps at test);
# 20-way, five steps at lr 0.1. MAML++ keeps its own (5 steps, lr 0.1, learned); Reptile takes 5 SGD steps at
# lr 0.1 on support+query and 10 at test.
GLYPH_ALGOS="maml fomaml anil metasgd metacurvature taml reptile mamlpp"
# glyph_inner ALGO WAYS: sets the caller's array `inner` to ALGO's inner-loop options at WAYS-way
glyph_inner() {
  if [ "$2" -ge 20 ]; then inner=(--inner-lr 0.1 --inner-steps 5 --eval-inner-steps 5)
  else inner=(--inner-lr 0.4 --inner-steps 1 --eval-inner-steps 3); fi
  [ "$1" = mamlpp ] && inner=()
  [ "$1" = reptile ] && inner=(--inner-lr 0.1 --inner-steps 5 --eval-inner-steps 10)
  return 0
}
export -f glyph_inner
