#include "cli/app.h"

int main(int argc, char** argv) { return nld::cli::runMain(argc, argv); }
