// A C++ hello that exercises the standard library (iostream, string, vector, algorithm).
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

int main() {
    std::vector<std::string> words{"static", "from", "Hello"};
    std::reverse(words.begin(), words.end());
    std::string line;
    for (const auto &w : words) line += (line.empty() ? "" : " ") + w;
    std::cout << line << " C++!" << std::endl;
    return 0;
}
